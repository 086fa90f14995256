/** Splits a stream of text chunks into NDJSON lines (a line may arrive in pieces). Pure. */
export class LineSplitter {
  private buf = '';

  /** Feeds a chunk; returns the complete, non-empty lines it finished. */
  push(chunk: string): string[] {
    this.buf += chunk;
    const parts = this.buf.split('\n');
    this.buf = parts.pop() ?? '';
    return parts.map((l) => l.trim()).filter((l) => l !== '');
  }
}
