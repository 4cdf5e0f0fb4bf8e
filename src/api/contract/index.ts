/**
 * The API contract: zod schemas for every route's parameters, bodies and responses, and the route
 * definitions /openapi.json is generated from. The server mounts these routes; the TypeScript client
 * and the dashboard take their types from here. Imports nothing from the server.
 */
export * from './common.ts';
export * from './hooks.ts';
export * from './pools.ts';
export * from './schedules.ts';
export * from './session.ts';
export * from './system.ts';
export * from './tasks.ts';
export * from './workflows.ts';
