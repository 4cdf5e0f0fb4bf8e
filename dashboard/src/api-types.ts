/**
 * The shapes of the public API (/v1/...) the dashboard reads: the API contract's own types
 * (src/api/contract/, the zod schemas /openapi.json is generated from), imported as types only so
 * nothing of the server, zod included, reaches the browser bundle. What the contract does not name
 * (the SSE frames) is written here.
 */
export type {
  AcceptedRequest,
  Definition,
  DefinitionStep,
  DefinitionTrigger,
  DlqEntry,
  ErrorInfo,
  Hook,
  Page,
  PermissionDenial,
  Pool,
  Run,
  RunStatus,
  RunTrigger,
  SandboxStatus,
  Schedule,
  SessionState as SessionInfo,
  StepAttemptError,
  StepStatus,
  StepView as Step,
  Task,
  TaskAdmission,
  TaskPolicy,
  TaskResult,
  TaskStatus,
  Usage,
  WorkflowSummary,
} from '../../src/api/contract/index.ts';

/** One event of GET /v1/tasks/{id}/events: `data` is Claude Code's own message, or a status change. */
export interface TaskEvent {
  seq: number;
  type: string;
  data: unknown;
}
