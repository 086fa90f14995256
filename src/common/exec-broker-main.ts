/**
 * The exec broker's process (see exec-broker.ts): runs every request with realExec, concurrently,
 * and answers over the IPC channel. Exits when the channel closes (its parent stopped or died).
 */
import { ExecError, realExec } from './exec.js';
import type { BrokerAnswer, BrokerRequest } from './exec-broker.js';

const answer = (a: BrokerAnswer): void => {
  if (process.connected) process.send!(a);
};

process.on('message', (req: BrokerRequest) => {
  realExec(req.cmd, req.args, req.opts).then(
    (result) => answer({ id: req.id, ok: true, result }),
    (e: unknown) => {
      if (e instanceof ExecError) answer({ id: req.id, ok: false, kind: 'exec', result: e.result });
      else
        answer({
          id: req.id,
          ok: false,
          kind: 'error',
          message: (e as Error).message,
          code: (e as NodeJS.ErrnoException).code,
        });
    },
  );
});
process.on('disconnect', () => process.exit(0));
