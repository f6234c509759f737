#!/usr/bin/env node
// The `agent-trader` command (package.json "bin"): `npx agent-trader <command>` after `npm ci`.
// No build step: tsx (a runtime dependency) compiles the TypeScript sources on load. Node
// resolves this file's symlink in node_modules/.bin to its real path, so the import below
// finds src/ beside it.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
