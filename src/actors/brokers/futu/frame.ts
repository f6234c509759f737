/**
 * The binary frames of Futu OpenD's WebSocket port, as futu-api 10.11.7108's base.js packs and
 * unpacks them (bytebuffer, big-endian), checked byte by byte in test/actors/futu-frame.test.ts:
 *
 *   request  (client -> OpenD), 20-byte header + body:
 *     0   8  sign     "ft-v1.0" + one NUL byte
 *     8   4  cmd      uint32 BE
 *    12   8  section  uint64 BE (the request's serial: the reply echoes it)
 *    20   .  body     protobuf (the cmd's Request message)
 *
 *   reply / push (OpenD -> client), 44-byte header + body:
 *     0   8  sign     "ft-v1.0\0"
 *     8   4  cmd      uint32 BE
 *    12   8  section  uint64 BE (the request's; 0 on a push)
 *    20   4  error    int32 BE (0 = no error at the WebSocket layer)
 *    24  20  errmsg   UTF-8, NUL-padded
 *    44   .  body     protobuf (the cmd's Response message), possibly empty
 *
 * Pure: no I/O. A frame that does not fit throws FrameError (the connection reports it and goes on).
 */

export const FRAME_SIGN = 'ft-v1.0\0';
export const REQUEST_HEADER_BYTES = 20;
export const REPLY_HEADER_BYTES = 44;
export const ERRMSG_BYTES = 20;
const SIGN = Buffer.from(FRAME_SIGN, 'latin1');
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export interface RequestFrame {
  readonly cmd: number;
  readonly section: bigint;
  readonly body: Uint8Array;
}

export interface ReplyFrame extends RequestFrame {
  /** The WebSocket layer's error (0: none); the body's retType is separate. */
  readonly error: number;
  readonly errmsg: string;
}

function checkCmd(cmd: number): void {
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > U32_MAX) throw new FrameError(`cmd must be a uint32, got ${cmd}`);
}

function checkSection(section: bigint): void {
  if (section < 0n || section > U64_MAX) throw new FrameError(`section must be a uint64, got ${section}`);
}

function checkSign(buf: Uint8Array, what: string): void {
  if (!SIGN.equals(buf.subarray(0, SIGN.length))) throw new FrameError(`${what} does not start with "ft-v1.0\\0" (got ${Buffer.from(buf.subarray(0, 8)).toString('hex')})`);
}

export function encodeRequest(frame: RequestFrame): Buffer {
  checkCmd(frame.cmd);
  checkSection(frame.section);
  const out = Buffer.alloc(REQUEST_HEADER_BYTES + frame.body.length);
  SIGN.copy(out, 0);
  out.writeUInt32BE(frame.cmd, 8);
  out.writeBigUInt64BE(frame.section, 12);
  out.set(frame.body, REQUEST_HEADER_BYTES);
  return out;
}

export function decodeRequest(data: Uint8Array): RequestFrame {
  if (data.length < REQUEST_HEADER_BYTES) throw new FrameError(`a request frame of ${data.length} bytes (the header alone is ${REQUEST_HEADER_BYTES})`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  checkSign(buf, 'a request frame');
  return { cmd: buf.readUInt32BE(8), section: buf.readBigUInt64BE(12), body: buf.subarray(REQUEST_HEADER_BYTES) };
}

export function encodeReply(frame: ReplyFrame): Buffer {
  checkCmd(frame.cmd);
  checkSection(frame.section);
  if (!Number.isInteger(frame.error) || frame.error < -0x8000_0000 || frame.error > 0x7fff_ffff) throw new FrameError(`error must be an int32, got ${frame.error}`);
  const out = Buffer.alloc(REPLY_HEADER_BYTES + frame.body.length);
  SIGN.copy(out, 0);
  out.writeUInt32BE(frame.cmd, 8);
  out.writeBigUInt64BE(frame.section, 12);
  out.writeInt32BE(frame.error, 20);
  // Cut at a character boundary: 20 bytes at most, the rest NUL (Buffer.alloc zero-fills).
  let msg = Buffer.from(frame.errmsg, 'utf8');
  if (msg.length > ERRMSG_BYTES) msg = Buffer.from(new TextDecoder().decode(msg.subarray(0, ERRMSG_BYTES)).replace(/\uFFFD+$/, ''), 'utf8');
  msg.copy(out, 24);
  out.set(frame.body, REPLY_HEADER_BYTES);
  return out;
}

export function decodeReply(data: Uint8Array): ReplyFrame {
  if (data.length < REPLY_HEADER_BYTES) throw new FrameError(`a reply frame of ${data.length} bytes (the header alone is ${REPLY_HEADER_BYTES})`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  checkSign(buf, 'a reply frame');
  return {
    cmd: buf.readUInt32BE(8),
    section: buf.readBigUInt64BE(12),
    error: buf.readInt32BE(20),
    // base.js: readUTF8String(20).replace(/\0/g, '')
    errmsg: buf.toString('utf8', 24, 44).replace(/\0/g, ''),
    body: buf.subarray(REPLY_HEADER_BYTES),
  };
}
