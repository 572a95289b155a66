/**
 * Error classes with stable `code`s (docs/PROTOCOL.md §5 lists every code).
 * Tests assert `code`, never message text.
 */

/** Base of every p2ptube error. `code` is stable across releases. */
export class P2PTubeError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Bytes that are not a valid frame: bad type, oversize length, truncated frame. */
export class InvalidFrameError extends P2PTubeError {}

/** A valid frame that is illegal here: malformed payload, unknown query id, forbidden name. */
export class ProtocolError extends P2PTubeError {}

/** A connect, request or idle timeout. `code` is always 'ERR_TIMEOUT'. */
export class TimeoutError extends P2PTubeError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message)
  }
}

/** The operation was cancelled through its AbortSignal. `code` is always 'ERR_ABORTED'. */
export class AbortError extends P2PTubeError {
  constructor(message = 'The operation was aborted') {
    super('ERR_ABORTED', message)
  }
}

/** The remote peer answered ERRO. `reason` is its payload text. */
export class RemoteError extends P2PTubeError {
  readonly reason: string
  constructor(reason: string) {
    super('ERR_REMOTE', `peer replied ERRO: ${reason}`)
    this.reason = reason
  }
}

/** A fetched file whose SHA-256 does not match its content id. */
export class IntegrityError extends P2PTubeError {
  constructor(message: string) {
    super('ERR_INTEGRITY', message)
  }
}
