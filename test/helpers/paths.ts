/** Where the tests find the project and its fixtures, wherever the test file sits in test/. */
import * as path from 'node:path';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..', '..');
/** test/fixtures: the plain model and the Hub-layout replicas of the real families. */
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
/** test/fixtures/replicas/<family>: random-weight exports in the Hub's layout and op set. */
export const REPLICAS = path.join(FIXTURES, 'replicas');
/** The embedded model shipped with the extension. */
export const EMBEDDED_MODEL = path.join(ROOT, 'models', 'default');
