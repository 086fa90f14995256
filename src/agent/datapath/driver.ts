/**
 * Runs datapath operations: consecutive operations for the same program go in one
 * `ip -force -batch -` / `bridge -force -batch -` call (order kept). `-force` keeps going past a
 * failing line, and the "Command failed -:N" lines tell which operations failed, so independent
 * objects still converge; the reconcile loop retries the failed ones with backoff. A release or
 * delete of a link that is gone already counts as done (ops.ts alreadyDone).
 */
import type { Exec } from '../../common/exec.js';
import { alreadyDone, type Op, type Tool, renderOp } from './ops.js';

export interface ApplyFailure {
  op: Op;
  line: string;
  error: string;
}

export interface ApplyResult {
  applied: number;
  failed: ApplyFailure[];
}

/** Line numbers (1-based) of failed commands in a batch's stderr, each with the message before it. */
export function parseBatchErrors(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let msg: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)\s*$/.exec(line);
    if (m) {
      out.set(Number(m[1]), msg.join('; ') || 'failed');
      msg = [];
    } else if (line.trim()) msg.push(line.trim());
  }
  return out;
}

/**
 * Applies operations that do not depend on each other's order (FDB and neighbour entries): one
 * batch per program, the batches at the same time.
 */
export async function applyIndependentOps(exec: Exec, ops: readonly Op[]): Promise<ApplyResult> {
  const byTool = new Map<Tool, Op[]>();
  for (const o of ops) {
    const tool = renderOp(o).tool;
    const batch = byTool.get(tool);
    if (batch) batch.push(o);
    else byTool.set(tool, [o]);
  }
  const results = await Promise.all([...byTool.values()].map((batch) => applyOps(exec, batch)));
  return { applied: results.reduce((n, r) => n + r.applied, 0), failed: results.flatMap((r) => r.failed) };
}

export async function applyOps(exec: Exec, ops: readonly Op[]): Promise<ApplyResult> {
  const result: ApplyResult = { applied: 0, failed: [] };
  let i = 0;
  while (i < ops.length) {
    const tool: Tool = renderOp(ops[i]).tool;
    const batch: { op: Op; line: string }[] = [];
    while (i < ops.length && renderOp(ops[i]).tool === tool) {
      batch.push({ op: ops[i], line: renderOp(ops[i]).line });
      i++;
    }
    const input = `${batch.map((b) => b.line).join('\n')}\n`;
    const r = await exec(tool, ['-force', '-batch', '-'], { input, allowFail: true });
    const errors = parseBatchErrors(r.stderr);
    if (r.code !== 0 && errors.size === 0) {
      // The program failed as a whole (not one line): count the whole batch as failed.
      for (const b of batch) result.failed.push({ ...b, error: r.stderr.trim() || `${tool} exited ${r.code}` });
      continue;
    }
    batch.forEach((b, n) => {
      const err = errors.get(n + 1);
      if (err && !alreadyDone(b.op, err)) result.failed.push({ ...b, error: err });
      else result.applied++;
    });
  }
  return result;
}
