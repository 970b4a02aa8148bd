/** One Server-Sent Event as a client parses it. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * A minimal SSE client over fetch: parses the stream as the EventSource spec does (fields, blank
 * line ends an event, `:` lines are comments) and keeps everything it read.
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  ended = false;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly body: unknown,
    private readonly abort: AbortController,
  ) {}

  /** Opens the stream; when the answer is not 200, its body (JSON) is in `body` and nothing is read. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: abort.signal,
    });
    if (response.status !== 200) {
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      return new SseClient(response.status, response.headers, body, abort);
    }
    const client = new SseClient(response.status, response.headers, undefined, abort);
    void client.read(response.body!);
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    let current: SseEvent = { data: '' };
    let hasData = false;
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffer.search(/\r\n|\n|\r/)) !== -1) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            if (hasData) this.events.push({ ...current, data: current.data.replace(/\n$/, '') });
            current = { data: '' };
            hasData = false;
          } else if (line.startsWith(':')) {
            this.comments++;
          } else {
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') {
              current.data += `${value}\n`;
              hasData = true;
            } else if (field === 'id') current.id = value;
            else if (field === 'event') current.event = value;
          }
          this.wake();
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Waits until `check` holds for what was read so far; throws after `timeoutMs`. */
  async until(check: (client: SseClient) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`SSE condition not met within ${timeoutMs} ms; read ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The `order` events' data, parsed. */
  orders(): any[] {
    return this.events.filter((e) => e.event === 'order').map((e) => JSON.parse(e.data));
  }

  close(): void {
    this.abort.abort();
  }
}

/** The states an order went through, as its events show them (repeats of one state once). */
export const statesOf = (orders: any[], orderId: number): string[] =>
  orders
    .filter((o) => o.id === orderId)
    .map((o) => o.state as string)
    .filter((state, i, all) => i === 0 || all[i - 1] !== state);
