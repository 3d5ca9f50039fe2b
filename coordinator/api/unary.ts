// Adapters from async functions to grpc-js handlers: errors become statuses (grpc-status.ts),
// nothing thrown escapes into grpc-js.
import type { handleServerStreamingCall, handleUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { toServiceError } from './grpc-status.js';

export function unary<Req, Res>(fn: (request: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error), null),
    );
  };
}

/** A server stream fed by an async generator; stops when the client goes away. */
export function serverStream<Req, Res>(fn: (request: Req, isCancelled: () => boolean) => AsyncGenerator<Res>): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    let cancelled = false;
    call.on('cancelled', () => (cancelled = true));
    void (async () => {
      try {
        for await (const message of fn(call.request, () => cancelled)) {
          if (cancelled) break;
          call.write(message);
        }
        if (!cancelled) call.end();
      } catch (error) {
        if (!cancelled) call.destroy(Object.assign(new Error(toServiceError(error).details), toServiceError(error)));
      }
    })();
  };
}
