// The koa glue (listen helper, drain hooks, health and admin routes) is tracked in its own issue.
// Until it lands, this package re-exports core so that apps can already depend on it.
export * from '@graceful-restart/core';
