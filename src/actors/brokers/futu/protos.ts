/**
 * The protobuf messages of the cmds we speak, loaded with protobufjs from the vendored .proto
 * files beside this module (proto/, futu-api 10.11.7108, ISC; the build copies them to dist/).
 *
 * Bodies are turned into plain objects with 64-bit integers as decimal STRINGS (`longs: String`):
 * Futu's accID, orderID and fillID are uint64 and pass 2^53, so a JS number would corrupt them.
 * Requests are built with `fromObject`, which takes those strings back.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** cmd -> the proto package holding its Request / Response (Futu's ftCmdID in futu-api's main.js). */
export const FUTU_CMDS = {
  InitWebSocket: 1,
  /** A push: OpenD's own link to this WebSocket went away (base.js ftApiCmdID.OpenDisConnect); no body we decode. */
  OpenDisconnect: 2,
  KeepAlive: 1004,
  Trd_GetAccList: 2001,
  Trd_UnlockTrade: 2005,
  Trd_SubAccPush: 2008,
  Trd_GetFunds: 2101,
  Trd_GetPositionList: 2102,
  Trd_GetOrderList: 2201,
  Trd_PlaceOrder: 2202,
  Trd_ModifyOrder: 2205,
  Trd_UpdateOrder: 2208,
  Trd_GetOrderFillList: 2211,
  Trd_UpdateOrderFill: 2218,
  Qot_Sub: 3001,
  Qot_GetBasicQot: 3004,
  /** A push only: its proto has a Response and no Request. */
  Qot_UpdateBasicQot: 3005,
} as const;
export type FutuCmdName = Exclude<keyof typeof FUTU_CMDS, 'OpenDisconnect'>;

const NAME_OF = new Map<number, FutuCmdName>(
  Object.entries(FUTU_CMDS)
    .filter(([name]) => name !== 'OpenDisconnect')
    .map(([name, cmd]) => [cmd, name as FutuCmdName]),
);

/** The name of a cmd we speak, or undefined. */
export function cmdName(cmd: number): FutuCmdName | undefined {
  return NAME_OF.get(cmd);
}

const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));

export interface FutuProtos {
  /** The cmd's Request message from a plain object (64-bit fields as strings or numbers). */
  encodeRequest(name: FutuCmdName, request: Record<string, unknown>): Uint8Array;
  /** The cmd's Response message as a plain object (64-bit fields as strings); throws on bytes that do not decode. */
  decodeResponse(name: FutuCmdName, body: Uint8Array): Record<string, unknown>;
  /** For the fake OpenD: the other direction. */
  decodeRequest(name: FutuCmdName, body: Uint8Array): Record<string, unknown>;
  encodeResponse(name: FutuCmdName, response: Record<string, unknown>): Uint8Array;
}

let loaded: FutuProtos | undefined;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false, arrays: true };

/** The vendored protos, loaded once per process. */
export function futuProtos(): FutuProtos {
  if (loaded) return loaded;
  const root = new protobuf.Root();
  // Imports are by bare file name ("Common.proto"): resolve them in proto/.
  root.resolvePath = (_origin, target) => PROTO_DIR + target.replace(/^.*[\\/]/, '');
  root.loadSync(
    [...NAME_OF.values()].map((n) => `${n}.proto`),
    { keepCase: true },
  );
  const type = (name: string): protobuf.Type => root.lookupType(name);
  loaded = {
    encodeRequest: (name, request) => {
      const t = type(`${name}.Request`);
      return t.encode(t.fromObject(request)).finish();
    },
    decodeResponse: (name, body) => {
      const t = type(`${name}.Response`);
      return t.toObject(t.decode(body), TO_OBJECT);
    },
    decodeRequest: (name, body) => {
      const t = type(`${name}.Request`);
      return t.toObject(t.decode(body), TO_OBJECT);
    },
    encodeResponse: (name, response) => {
      const t = type(`${name}.Response`);
      return t.encode(t.fromObject(response)).finish();
    },
  };
  return loaded;
}
