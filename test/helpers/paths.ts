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
/**
 * Real TypeScript to cut test cases from, fixed so that figures do not move with the project's own sources: the
 * engine's 27 source files as they were on 2026-12-07 (`<name>.ts.txt`, so that no tool reads them as sources).
 */
export const CODE_CORPUS = path.join(FIXTURES, 'code', 'engine');
