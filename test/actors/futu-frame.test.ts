/**
 * The OpenD WebSocket frames, byte by byte, against the layout futu-api 10.11.7108's base.js
 * packs (packBuff: sign "ft-v1.0" NUL-padded to 8, writeUInt32(cmd), writeUInt64(section), body;
 * bytebuffer is big-endian) and unpacks (unpackBuff: sign 8, cmd u32, section u64, error i32,
 * errmsg 20 bytes with NULs removed, then the body: 44 bytes of header).
 */
import { describe, expect, it } from 'vitest';
import { decodeReply, decodeRequest, encodeReply, encodeRequest, FrameError, REPLY_HEADER_BYTES, REQUEST_HEADER_BYTES } from '../../src/actors/brokers/futu/frame.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const SIGN_HEX = '66742d76312e3000'; // f t - v 1 . 0 NUL

describe('Futu frames', () => {
  it('a request: sign, cmd u32 BE, section u64 BE, body (20-byte header)', () => {
    const f = encodeRequest({ cmd: 2202, section: 0x0102030405060708n, body: Uint8Array.from([0x0a, 0x02, 0x08, 0x01]) });
    expect(REQUEST_HEADER_BYTES).toBe(20);
    expect(hex(f)).toBe(`${SIGN_HEX}0000089a` + '0102030405060708' + '0a020801');
    expect(decodeRequest(f)).toEqual({ cmd: 2202, section: 0x0102030405060708n, body: Buffer.from([0x0a, 0x02, 0x08, 0x01]) });
  });

  it('the handshake request with an empty body is the header alone; the largest section is u64 max', () => {
    expect(hex(encodeRequest({ cmd: 1, section: 2n, body: new Uint8Array() }))).toBe(`${SIGN_HEX}00000001` + '0000000000000002');
    expect(hex(encodeRequest({ cmd: 0xffffffff, section: (1n << 64n) - 1n, body: new Uint8Array() }))).toBe(`${SIGN_HEX}ffffffff` + 'ffffffffffffffff');
    expect(() => encodeRequest({ cmd: 1, section: 1n << 64n, body: new Uint8Array() })).toThrow(FrameError);
    expect(() => encodeRequest({ cmd: -1, section: 1n, body: new Uint8Array() })).toThrow(FrameError);
  });

  it('a reply: sign, cmd, section, error i32 BE, errmsg[20] NUL-padded, body (44-byte header)', () => {
    const f = encodeReply({ cmd: 2202, section: 7n, error: -2, errmsg: 'bad', body: Uint8Array.from([0x08, 0x00]) });
    expect(REPLY_HEADER_BYTES).toBe(44);
    expect(f.length).toBe(46);
    expect(hex(f)).toBe(`${SIGN_HEX}0000089a` + '0000000000000007' + 'fffffffe' + '626164' + '00'.repeat(17) + '0800');
    expect(decodeReply(f)).toEqual({ cmd: 2202, section: 7n, error: -2, errmsg: 'bad', body: Buffer.from([0x08, 0x00]) });
  });

  it('a push has section 0; a reply without a body decodes to an empty body', () => {
    const f = encodeReply({ cmd: 2208, section: 0n, error: 0, errmsg: '', body: new Uint8Array() });
    expect(hex(f)).toBe(`${SIGN_HEX}000008a0` + '00'.repeat(8) + '00000000' + '00'.repeat(20));
    const d = decodeReply(f);
    expect(d.section).toBe(0n);
    expect(d.body.length).toBe(0);
  });

  it('errmsg is cut to 20 bytes at a character boundary (UTF-8) and read back without NULs', () => {
    const long = encodeReply({ cmd: 1, section: 1n, error: 1, errmsg: '密钥错误密钥错误', body: new Uint8Array() }); // 24 bytes of UTF-8
    expect(decodeReply(long).errmsg).toBe('密钥错误密钥'); // 6 chars = 18 bytes fit, the 7th would not
    expect(hex(long.subarray(24, 44)).endsWith('0000')).toBe(true);
  });

  it('a frame shorter than its header, or without the sign, is a FrameError (never a crash or a guess)', () => {
    expect(() => decodeReply(new Uint8Array(43))).toThrow(/43 bytes/);
    const bad = encodeReply({ cmd: 1, section: 1n, error: 0, errmsg: '', body: new Uint8Array() });
    bad[6] = 0x31; // "ft-v1.1"
    expect(() => decodeReply(bad)).toThrow(FrameError);
    expect(() => decodeRequest(Buffer.from('hello world, not a frame'))).toThrow(/does not start with/);
  });

  it('reads a frame at an offset inside a larger buffer (ws hands out slices of its receive buffer)', () => {
    const f = encodeReply({ cmd: 2201, section: 99n, error: 0, errmsg: '', body: Uint8Array.from([1, 2, 3]) });
    const big = Buffer.concat([Buffer.from([9, 9, 9]), f]);
    const slice = big.subarray(3);
    expect(decodeReply(slice)).toMatchObject({ cmd: 2201, section: 99n, body: Buffer.from([1, 2, 3]) });
  });
});
