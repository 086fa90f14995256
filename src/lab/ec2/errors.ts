/**
 * EC2's error codes as the endpoint raises them: a typed fault with AWS's code, HTTP status and the
 * message wording of AWS's error-code reference, turned into the XML error body in one place (server.ts).
 */

export class Ec2Fault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2Fault';
  }
}

/** The faults by code; the `…NotFound` ones name the id the way EC2's messages do. */
export const faults = {
  notFound: (code: string, kind: string, id: string) => new Ec2Fault(code, `The ${kind} ID '${id}' does not exist`),
  malformed: (code: string, id: string) => new Ec2Fault(code, `Invalid id: "${id}"`),
  missing: (param: string) => new Ec2Fault('MissingParameter', `The request must contain the parameter ${param}`),
  invalidValue: (param: string, value: string, why = '') =>
    new Ec2Fault('InvalidParameterValue', `Value (${value}) for parameter ${param} is invalid.${why ? ` ${why}` : ''}`),
  combination: (message: string) => new Ec2Fault('InvalidParameterCombination', message),
  invalidAction: (action: string) =>
    new Ec2Fault('InvalidAction', `The action ${action} is not valid for this web service.`),
  unauthorized: () => new Ec2Fault('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403),
  throttled: () => new Ec2Fault('RequestLimitExceeded', 'Request limit exceeded.', 503),
  authFailure: () => new Ec2Fault('AuthFailure', 'AWS was not able to validate the provided access credentials', 401),
  signatureMismatch: () =>
    new Ec2Fault(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. ' +
        'Check your AWS Secret Access Key and signing method.',
      403,
    ),
  expired: () => new Ec2Fault('RequestExpired', 'Request has expired.'),
  dryRun: () => new Ec2Fault('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412),
  idempotentMismatch: () =>
    new Ec2Fault(
      'IdempotentParameterMismatch',
      'The client token you have provided is associated with a resource that is already created ' +
        'with different parameters.',
    ),
  badToken: () => new Ec2Fault('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.'),
  dependency: (id: string) => new Ec2Fault('DependencyViolation', `resource ${id} has a dependent object`),
} as const;
