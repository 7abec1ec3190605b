import { embeddedHarness } from './support/embedded-harness.js';
import { auditSuite } from './suites/audit.js';

auditSuite(embeddedHarness());
