#!/usr/bin/env node
// The `graceful-restart` command. A committed file, so that installing the workspace (before
// any build) links the bin without warnings; the command itself is built into dist/.
import '../dist/cli.js';
