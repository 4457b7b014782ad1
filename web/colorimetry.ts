// Colour spaces, pure arithmetic with no platform API: GStreamer colorimetry strings to WebCodecs'
// VideoColorSpaceInit, and the YUV -> RGB formula each one implies. Shared by the browser module
// (its shader), the Node library (toVideoFrameInit) and the CLI (PNG snapshots), so that all three
// agree on colour.

/** WebCodecs names, limited to what TypeScript's DOM library accepts. */
/** WebCodecs' VideoMatrixCoefficients names frame-source produces. */
export type MatrixCoefficients = 'rgb' | 'bt709' | 'bt470bg' | 'smpte170m';
/** WebCodecs' VideoColorPrimaries names frame-source produces. */
export type ColorPrimaries = 'bt709' | 'bt470bg' | 'smpte170m';
/** WebCodecs' VideoTransferCharacteristics names frame-source produces. */
export type TransferCharacteristics = 'bt709' | 'smpte170m' | 'iec61966-2-1';

/** WebCodecs' VideoColorSpaceInit: a field is left out when WebCodecs has no name for it. */
export interface VideoColorSpaceInit {
  /** The YUV to RGB matrix. */
  matrix?: MatrixCoefficients;
  /** The colour primaries. */
  primaries?: ColorPrimaries;
  /** The transfer function. */
  transfer?: TransferCharacteristics;
  /** true: 0–255; false: 16–235 (limited, "TV" range). */
  fullRange?: boolean;
}

/** The matrix families the YUV conversion knows. */
export type YuvMatrix = 'bt601' | 'bt709' | 'bt2020';

/** GStreamer's colorimetry as its four enums (GstVideoColorimetry: range, matrix, transfer, primaries). */
export interface Colorimetry {
  range: number;
  matrix: number;
  transfer: number;
  primaries: number;
}

// The named colorimetries of gst/video/video-color.h, as range:matrix:transfer:primaries.
const NAMED: Record<string, [number, number, number, number]> = {
  bt601: [2, 4, 16, 4],
  bt709: [2, 3, 5, 1],
  smpte240m: [2, 5, 6, 5],
  sRGB: [1, 1, 7, 1],
  bt2020: [2, 6, 11, 7],
  'bt2020-10': [2, 6, 13, 7],
  'bt2100-pq': [2, 6, 14, 7],
  'bt2100-hlg': [2, 6, 15, 7],
};

/** Parses 'bt709', 'sRGB' or '2:4:16:4'; null for an empty or unknown string. */
export function parseColorimetry(text: string): Colorimetry | null {
  const named = NAMED[text];
  const parts = named ?? (/^\d+:\d+:\d+:\d+$/.test(text) ? text.split(':').map(Number) : null);
  if (!parts) return null;
  const [range, matrix, transfer, primaries] = parts as [number, number, number, number];
  return { range, matrix, transfer, primaries };
}

const MATRIX: Record<number, MatrixCoefficients> = { 1: 'rgb', 3: 'bt709', 4: 'smpte170m' };
// BT.2020's 10- and 12-bit transfer functions are BT.709's curve.
const TRANSFER: Record<number, TransferCharacteristics> = { 5: 'bt709', 7: 'iec61966-2-1', 11: 'bt709', 13: 'bt709', 16: 'smpte170m' };
const PRIMARIES: Record<number, ColorPrimaries> = { 1: 'bt709', 3: 'bt470bg', 4: 'smpte170m' };

/** WebCodecs' VideoColorSpaceInit for a GStreamer colorimetry string (fields WebCodecs cannot name are left out). */
export function colorSpaceFromColorimetry(text: string): VideoColorSpaceInit {
  const c = parseColorimetry(text);
  const out: VideoColorSpaceInit = {};
  if (!c) return out;
  const matrix = MATRIX[c.matrix];
  const primaries = PRIMARIES[c.primaries];
  const transfer = TRANSFER[c.transfer];
  if (matrix) out.matrix = matrix;
  if (primaries) out.primaries = primaries;
  if (transfer) out.transfer = transfer;
  if (c.range === 1) out.fullRange = true;
  else if (c.range === 2) out.fullRange = false;
  return out;
}

/**
 * y' = (Y - yOffset) * yScale, c' = C - 128; R = y' + rv c'r, G = y' - gu c'b - gv c'r,
 * B = y' + bu c'b. 8-bit code values in and out (0..255).
 */
export interface YuvToRgb {
  matrix: YuvMatrix;
  fullRange: boolean;
  yOffset: number;
  yScale: number;
  rv: number;
  gu: number;
  gv: number;
  bu: number;
}

const KR_KB: Record<YuvMatrix, [number, number]> = {
  bt601: [0.299, 0.114],
  bt709: [0.2126, 0.0722],
  bt2020: [0.2627, 0.0593],
};

/** The conversion for a matrix and range, from its Kr and Kb (ITU-R BT.601/709/2020). */
export function yuvToRgb(matrix: YuvMatrix, fullRange: boolean): YuvToRgb {
  const [kr, kb] = KR_KB[matrix];
  const kg = 1 - kr - kb;
  const yScale = fullRange ? 1 : 255 / 219;
  // GStreamer's scales (video-color.c): Y 219 and chroma 224 codes for limited range, 255 for full.
  const cScale = fullRange ? 1 : 255 / 224;
  return {
    matrix,
    fullRange,
    yOffset: fullRange ? 0 : 16,
    yScale,
    rv: 2 * (1 - kr) * cScale,
    gu: ((2 * kb * (1 - kb)) / kg) * cScale,
    gv: ((2 * kr * (1 - kr)) / kg) * cScale,
    bu: 2 * (1 - kb) * cScale,
  };
}

/**
 * The conversion a frame needs, from its WebCodecs colour space. Without one, GStreamer's default
 * for the size (measured with 1.22): BT.601 up to 576 lines, BT.709 above; limited range.
 */
export function yuvToRgbFor(colorSpace: VideoColorSpaceInit | undefined | null, height: number): YuvToRgb {
  const m = colorSpace?.matrix;
  const matrix: YuvMatrix = m === 'bt709' ? 'bt709' : m === 'smpte170m' || m === 'bt470bg' ? 'bt601' : height > 576 ? 'bt709' : 'bt601';
  return yuvToRgb(matrix, colorSpace?.fullRange === true);
}

/** The conversion for a GStreamer colorimetry string (BT.2020 included, which WebCodecs cannot name). */
export function yuvToRgbForColorimetry(text: string, height: number): YuvToRgb {
  const c = parseColorimetry(text);
  if (c?.matrix === 6) return yuvToRgb('bt2020', c.range === 1);
  return yuvToRgbFor(colorSpaceFromColorimetry(text), height);
}
