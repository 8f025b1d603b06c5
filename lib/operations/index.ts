export { LOCKED_KINDS, OPERATIONS, type OperationKind } from "./registry";
export { reportInterrupted, runOperation, type OperationOutcome, type RunOperationOptions } from "./run-operation";
export type { Actor, OperationEvent, OperationServices } from "./types";
