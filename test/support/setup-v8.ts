// Set before any wasm (PGlite, Cedar) is compiled or optimised in this worker; see src/authz/cedar.ts.
import { guardWasmInlining } from '../../src/authz/index.js';

guardWasmInlining();
