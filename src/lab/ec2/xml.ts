/**
 * The EC2 Query API's XML, written from plain values: an object is an element per key, an array is
 * EC2's `<xxxSet><item>…</item></xxxSet>` list, `undefined`/`null` leave the element out. Responses are
 * small, so a string builder is enough; names are the lowerCamelCase ones of AWS's API reference.
 */

export type XmlValue = string | number | boolean | null | undefined | XmlValue[] | { [name: string]: XmlValue };

/** The EC2 API version this endpoint speaks, and its XML namespace. */
export const EC2_VERSION = '2016-11-15';
export const EC2_XMLNS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`;

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => escapes[c]!);

/** One element `<name>…</name>` (nothing for null/undefined). */
export function element(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => element('item', v)).join('')}</${name}>`;
  if (typeof value === 'object') {
    const inner = Object.entries(value)
      .map(([k, v]) => element(k, v))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A successful response: `<ActionResponse xmlns=…><requestId/>…</ActionResponse>`. */
export function responseXml(action: string, requestId: string, body: Record<string, XmlValue>): string {
  const inner = element('x', { requestId, ...body }).slice(3, -4);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">${inner}</${action}Response>`;
}

/** EC2's error body (its reference, "Error codes": Response/Errors/Error, then RequestID). */
export function errorXml(code: string, message: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `</Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`
  );
}
