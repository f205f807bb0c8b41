// Types of config.mjs, for the examples written in TypeScript (nestjs).
export interface ExampleConfig {
  greeting: string;
  listener: { name: string; path: string } | { name: string; port: number; host: string };
  pidFile: string | undefined;
  admin: boolean;
}
export function loadConfig(env?: NodeJS.ProcessEnv): ExampleConfig;
