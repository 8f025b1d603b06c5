export { LOCKED_KINDS, OPERATIONS, type OperationKind } from "./registry";
export { runOperation, type OperationOutcome, type RunOperationOptions } from "./run-operation";
export type { Actor, OperationEvent, OperationServices } from "./types";
