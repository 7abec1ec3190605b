import { embeddedHarness } from './support/embedded-harness.js';
import { jobsSuite } from './suites/jobs.js';
import { keysSuite } from './suites/keys.js';
import { migrationsSuite } from './suites/migrations.js';

migrationsSuite(embeddedHarness());
jobsSuite(embeddedHarness());
keysSuite(embeddedHarness());
