import { embeddedHarness } from './support/embedded-harness.js';
import { tenancySuite } from './suites/tenancy.js';

tenancySuite(embeddedHarness());
