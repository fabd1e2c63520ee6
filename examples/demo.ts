// Superdraft demo file: `npm run demo` completes at the cursor marker below with every strategy.

export interface Point {
  x: number;
  y: number;
}

export class Vector implements Point {
  constructor(
    public x: number,
    public y: number,
  ) {}

  add(other: Point): Vector {
    return new Vector(this.x + other.x, this.y + other.y);
  }

  sub(other: Point): Vector {
    return new Vector(this.x - other.x, this.y - other.y);
  }

  scale(factor: number): Vector {
    return new Vector(this.x * factor, this.y * factor);
  }

  dot(other: Point): number {
    return this.x * other.x + this.y * other.y;
  }

  length(): number {
    return Math.sqrt(this.dot(this));
  }

  normalize(): Vector {
    const len = this.length();
    return len === 0 ? new Vector(0, 0) : this.scale(1 / len);
  }

  distanceTo(other: Point): number {
    <|cursor|>
  }
}

export function centroid(points: Point[]): Vector {
  let sum = new Vector(0, 0);
  for (const p of points) sum = sum.add(p);
  return points.length ? sum.scale(1 / points.length) : sum;
}
