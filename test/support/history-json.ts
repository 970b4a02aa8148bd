import { createRequire } from 'node:module';
import type { History } from '@temporalio/common/lib/proto-utils.js';

// Workflow histories as JSON files, in the proto3 JSON form the Temporal CLI and Web UI export.
//
// The SDK's historyToJSON / historyFromJSON (@temporalio/common/lib/proto-utils) fail in this
// install with "type must be a Type": @temporalio/common and @temporalio/proto each get their own
// nested copy of protobufjs 8 (the top level holds protobufjs 7 for gRPC, OpenTelemetry and ccxt),
// and protobufjs' JSON extension only accepts message types of its own copy. So the conversion here
// uses the copy that @temporalio/proto itself loads.
type ProtoJson = {
  toJson(type: unknown, message: unknown, options?: object): unknown;
  fromJson(type: unknown, json: unknown, options?: object): unknown;
};
const requireHere = createRequire(import.meta.url);
const proto = requireHere('@temporalio/proto') as typeof import('@temporalio/proto');
const requireFromProto = createRequire(requireHere.resolve('@temporalio/proto'));
const protojson = requireFromProto('protobufjs/ext/protojson') as ProtoJson;
const { patchProtobufRoot } = requireFromProto('../lib/patch-protobuf-root') as {
  patchProtobufRoot<T>(root: T): T & { lookupType(name: string): unknown };
};
const HistoryMessage = proto.temporal.api.history.v1.History;
const historyType = patchProtobufRoot(proto).lookupType('temporal.api.history.v1.History');

/** A history (as fetched from the server) in proto3 JSON. */
export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, HistoryMessage.fromObject(history));
}

/** A history back from proto3 JSON; fields a newer server added are ignored. */
export function historyFromJson(json: unknown): History {
  return protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History;
}
