// How far apart two colours look, for people with full colour vision and with a colour
// vision deficiency: sRGB to CIELAB (D65) and the CIE76 distance ΔE, where about 2.3 is
// just noticeable and 20 or more reads as a different colour at a glance. Deficiencies are
// simulated with Machado, Oliveira and Fernandes' 2009 matrices (severity 1), which apply
// to linear RGB, as an SVG feColorMatrix does by default.

export type Rgb = readonly [number, number, number];
type Matrix = readonly [Rgb, Rgb, Rgb];

export const VISION: Record<"normal" | "deuteranopia" | "protanopia" | "tritanopia", Matrix> = {
  normal: [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039],
  ],
};

/** The `values` of an SVG feColorMatrix that shows a page as `matrix` sees it. */
export function feColorMatrixValues(matrix: Matrix): string {
  return matrix.map((row) => [...row, 0, 0].join(" ")).join("  ") + "  0 0 0 1 0";
}

export function hexToRgb(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

const toLinear = (channel: number) => {
  const c = channel / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
};

/** CIELAB of an sRGB colour (0–255 channels) as a viewer with `matrix` sees it. */
export function lab(rgb: Rgb, matrix: Matrix = VISION.normal): Rgb {
  const linear = rgb.map(toLinear);
  const [r = 0, g = 0, b = 0] = matrix.map((row) =>
    Math.min(
      1,
      Math.max(
        0,
        row[0] * (linear[0] ?? 0) + row[1] * (linear[1] ?? 0) + row[2] * (linear[2] ?? 0),
      ),
    ),
  );
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

export function deltaE(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}
