// A bare WebSocket client for the fake's Gateway tests: it records every frame it receives and lets a test wait
// for the next one that matches, send anything (valid or not) and see how the server closed the connection.

import WebSocket from 'ws';

// A received frame (Discord's payload structure).
export interface Frame<D = unknown> {
  op: number;
  d: D;
  s: number | null;
  t: string | null;
}

// A frame's `d` as the type a test expects there.
export function data<D>(f: Frame): D {
  return f.d as D;
}

export class RawGateway {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private cursor = 0;
  private wake: (() => void) | undefined;
  private closeInfo: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.wake?.();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake?.();
      });
    });
    ws.on('error', () => {});
  }

  // Opens a connection to `url` + `query` (Discord's `?v=10&encoding=json` by default).
  static connect(url: string, query = '?v=10&encoding=json'): Promise<RawGateway> {
    const ws = new WebSocket(`${url}${query}`);
    const client = new RawGateway(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  // The next frame (after the last one taken) that matches, waiting for it; rejects if the connection closes first.
  async next(match: (f: Frame) => boolean = () => true): Promise<Frame> {
    for (;;) {
      while (this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++]!;
        if (match(f)) return f;
      }
      if (this.closeInfo) throw new Error(`closed ${this.closeInfo.code} ${this.closeInfo.reason} while waiting for a frame`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  // The next frame with this op (and event name).
  nextOp(op: number, t?: string): Promise<Frame> {
    return this.next((f) => f.op === op && (t === undefined || f.t === t));
  }

  send(payload: unknown): void {
    this.ws.send(typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload));
  }

  identify(token: string, intents: number, extra: Record<string, unknown> = {}): void {
    this.send({ op: 2, d: { token, intents, properties: { os: 'linux', browser: 'raw', device: 'raw' }, ...extra } });
  }

  resume(token: string, sessionId: string, seq: number | null): void {
    this.send({ op: 6, d: { token, session_id: sessionId, seq } });
  }

  close(code = 4900): Promise<{ code: number; reason: string }> {
    this.ws.close(code);
    return this.closed;
  }
}
