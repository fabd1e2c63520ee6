// The files the suite writes into the code-server workspace, and the completion points of the latency scenario.

export const TS_FILE = 'shapes.ts';
export const PY_FILE = 'inventory.py';
export const CYCLE_FILE = 'cycle.py';
export const PICKER_FILE = 'picker.py';
export const LATENCY_FILE = 'latency.py';
export const PREFETCH_FILE = 'prefetch.py';
export const HUB_MODEL_FILE = 'hub_model.py';
export const REMOTE_FILE = 'remote.py';
export const NEXT_EDIT_FILE = 'rename.py';

export const WORKSPACE_FILES = {
  // scenario 13: \`subtotal\` stands at 5 sites (renamed at its definition, carried to the 4 uses); RETRIES's literal is
  // a one-off change with nothing alike
  [NEXT_EDIT_FILE]: `def total_price(items, rate):
    subtotal = 0
    for item in items:
        subtotal += item.price * item.quantity
    tax = subtotal * rate
    return subtotal + tax


def describe(order):
    return f"{order.id}: {len(order.items)} items"


RETRIES = 3
`,
  [REMOTE_FILE]: `def celsius(fahrenheit):
    return (fahrenheit - 32) * 5 / 9


`,
  [HUB_MODEL_FILE]: `def area(r):
    width = r.right - r.left
    height = r.bottom - r.top
    return width * height


`,
  [TS_FILE]: `export interface Point {
  x: number;
  y: number;
}

export function distance(a: Point, b: Point): number {
  const dx = a.x - b.x;
  const dy = a.y - b.y;
  return Math.sqrt(dx * dx + dy * dy);
}

`,
  [PY_FILE]: `import json


class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, count):
        self.items[name] = self.items.get(name, 0) + count

`,
  [CYCLE_FILE]: `import os
import sys


def read_lines(path):
    with open(path) as f:
        return [line.rstrip("\\n") for line in f]


`,
  [PICKER_FILE]: `def square(x):
    return x * x


`,
  [PREFETCH_FILE]: `import os


def list_files(root):
    out = []
    for name in os.listdir(root):
        out.append(os.path.join(root, name))
    return out


`,
  [LATENCY_FILE]: `import math
import os
import sys

`,
};

// Completion points for the latency scenario: a line prefix typed before the measured keystroke (its last
// character). Two kinds alternate: after a block opener (":" at the end of a header: a multi-line block completion)
// and mid-statement at the end of the line (a rest-of-line completion), the bulk of what typing triggers.
export const LATENCY_BLOCK_PROMPTS = [
  'def fibonacci(n):', 'def is_prime(n):', 'def factorial(n):', 'for i in range(10):', 'def read_file(path):',
  'class Stack:', 'def main():', 'if __name__ == "__main__":', 'def mean(values):', 'def reverse_string(s):',
  'def gcd(a, b):', 'def clamp(x, lo, hi):', 'with open(path) as f:', 'def parse_args():', 'def count_words(text):',
  'def flatten(items):', 'def max_value(values):', 'class Point:', 'def distance(p, q):', 'def save_json(data, path):',
];
export const LATENCY_LINE_PROMPTS = [
  'result = [', 'total = sum(', 'name = os.path.basename(', 'words = text.split', 'values = [int(x) for x in',
  'data = json.loads(', 'root = os.path.dirname(', 'count = len(', 'parts = line.strip', 'if len(items) >',
  'path = os.path.join(', 'lines = f.read', 'x = math.sqrt(', 'print("total:",', 'keys = sorted(',
  'n = int(', 'args = sys.argv', 'size = os.path.getsize(', 'first = items[', 'value = float(',
];
export const LATENCY_PROMPTS = LATENCY_BLOCK_PROMPTS.flatMap((p, i) => [p, LATENCY_LINE_PROMPTS[i]]);
export const latencyKind = (prompt) => (prompt.endsWith(':') ? 'block' : 'line');
