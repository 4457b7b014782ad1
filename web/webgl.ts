// Draws frames on a canvas with WebGL2: one texture per plane, uploaded where the bytes are
// (UNPACK_ROW_LENGTH for padded strides, an offset into the same buffer per plane), and YUV to RGB
// in the fragment shader with the frame's own matrix and range. Runs on the page's thread (or a
// worker with an OffscreenCanvas).
import { yuvToRgbFor, yuvToRgbForColorimetry } from './colorimetry';
import { asBytes, cannotDraw, planesOf, type FrameData, type FrameInit, type Plane } from './frame-init';

const VERTEX = `#version 300 es
in vec2 a_pos;
out vec2 v_uv;
void main() {
  // Row 0 of the frame at the top of the canvas.
  v_uv = vec2(a_pos.x + 1.0, 1.0 - a_pos.y) * 0.5;
  gl_Position = vec4(a_pos, 0.0, 1.0);
}`;

const FRAGMENT = `#version 300 es
precision highp float;
precision highp int;
uniform highp sampler2D u_plane0;
uniform highp sampler2D u_plane1;
uniform highp sampler2D u_plane2;
uniform int u_mode;      // 0 RGBA, 1 BGRA, 2 I420, 3 NV12, 4 GRAY8
uniform bool u_opaque;   // RGBX/BGRX: ignore the fourth byte
uniform ivec2 u_size;    // coded size
uniform vec2 u_luma;     // offset, scale (8-bit code values)
uniform vec4 u_chroma;   // rv, gu, gv, bu
in vec2 v_uv;
out vec4 outColor;
void main() {
  // Whole texels only: the canvas shows the frame's own samples, chroma at half resolution.
  ivec2 p = clamp(ivec2(v_uv * vec2(u_size)), ivec2(0), u_size - 1);
  if (u_mode <= 1) {
    vec4 c = texelFetch(u_plane0, p, 0);
    if (u_mode == 1) c = c.bgra;
    if (u_opaque) c.a = 1.0;
    outColor = c;
    return;
  }
  float y = texelFetch(u_plane0, p, 0).r * 255.0;
  if (u_mode == 4) {
    outColor = vec4(vec3(y / 255.0), 1.0);
    return;
  }
  ivec2 q = p / 2;
  vec2 c = u_mode == 2
    ? vec2(texelFetch(u_plane1, q, 0).r, texelFetch(u_plane2, q, 0).r)
    : texelFetch(u_plane1, q, 0).rg;
  c = c * 255.0 - 128.0;
  float l = (y - u_luma.x) * u_luma.y;
  vec3 rgb = vec3(l + u_chroma.x * c.y, l - u_chroma.y * c.x - u_chroma.z * c.y, l + u_chroma.w * c.x);
  outColor = vec4(clamp(rgb / 255.0, 0.0, 1.0), 1.0);
}`;

const MODES: Record<string, number> = { RGBA: 0, RGBX: 0, BGRA: 1, BGRX: 1, I420: 2, NV12: 3, GRAY8: 4 };

export interface WebGLRendererOptions {
  /** Keep the drawn frame readable after the task that drew it (readPixels, toDataURL). Default false. */
  preserveDrawingBuffer?: boolean;
}

interface TextureState {
  texture: WebGLTexture;
  width: number;
  height: number;
  bytesPerTexel: number;
}

export class WebGLFrameRenderer {
  readonly canvas: HTMLCanvasElement | OffscreenCanvas;
  readonly gl: WebGL2RenderingContext;
  #program: WebGLProgram;
  #textures: TextureState[] = [];
  #uniforms: Record<string, WebGLUniformLocation | null> = {};
  #scratch: Uint8Array | null = null;

  constructor(canvas: HTMLCanvasElement | OffscreenCanvas, options: WebGLRendererOptions = {}) {
    this.canvas = canvas;
    const gl = canvas.getContext('webgl2', {
      antialias: false,
      depth: false,
      premultipliedAlpha: false,
      preserveDrawingBuffer: options.preserveDrawingBuffer ?? false,
    });
    if (!gl) throw new Error('WebGL2 is not available in this browser or context');
    this.gl = gl;
    this.#program = link(gl, VERTEX, FRAGMENT);
    gl.useProgram(this.#program);
    for (const name of ['u_plane0', 'u_plane1', 'u_plane2', 'u_mode', 'u_opaque', 'u_size', 'u_luma', 'u_chroma']) {
      this.#uniforms[name] = gl.getUniformLocation(this.#program, name);
    }
    const quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
    const pos = gl.getAttribLocation(this.#program, 'a_pos');
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    for (let i = 0; i < 3; i++) {
      gl.uniform1i(this.#uniforms[`u_plane${i}`]!, i);
    }
  }

  /** Draws one frame, resizing the canvas to the frame's display size when it differs. */
  draw(data: FrameData, init: FrameInit): void {
    const gl = this.gl;
    const bytes = asBytes(data);
    const mode = Object.prototype.hasOwnProperty.call(MODES, init.format) ? MODES[init.format] : undefined;
    if (mode === undefined) throw cannotDraw(init.format);
    const planes = planesOf(init, bytes.byteLength);
    const width = init.displayWidth ?? init.codedWidth;
    const height = init.displayHeight ?? init.codedHeight;
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    gl.viewport(0, 0, width, height);
    gl.useProgram(this.#program);
    planes.forEach((plane, i) => this.#upload(i, plane, bytes));
    // The colorimetry names BT.2020, which a WebCodecs colour space cannot.
    const m = init.colorimetry
      ? yuvToRgbForColorimetry(init.colorimetry, init.codedHeight)
      : yuvToRgbFor(init.colorSpace, init.codedHeight);
    gl.uniform1i(this.#uniforms.u_mode!, mode);
    gl.uniform1i(this.#uniforms.u_opaque!, init.format.endsWith('X') ? 1 : 0);
    gl.uniform2i(this.#uniforms.u_size!, init.codedWidth, init.codedHeight);
    gl.uniform2f(this.#uniforms.u_luma!, m.yOffset, m.yScale);
    gl.uniform4f(this.#uniforms.u_chroma!, m.rv, m.gu, m.gv, m.bu);
    gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
  }

  #upload(index: number, plane: Plane, bytes: Uint8Array): void {
    const gl = this.gl;
    const formats = [[gl.R8, gl.RED], [gl.RG8, gl.RG], null, [gl.RGBA8, gl.RGBA]] as const;
    const [internal, format] = formats[plane.bytesPerTexel - 1]!;
    let state = this.#textures[index];
    gl.activeTexture(gl.TEXTURE0 + index);
    if (!state) {
      const texture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      state = { texture, width: 0, height: 0, bytesPerTexel: 0 };
      this.#textures[index] = state;
    }
    gl.bindTexture(gl.TEXTURE_2D, state.texture);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    let source = bytes;
    let offset = plane.offset;
    let rowLength = plane.stride / plane.bytesPerTexel;
    if (!Number.isInteger(rowLength)) {
      // A stride that is not a whole number of texels: repack the rows tightly.
      source = this.#repack(bytes, plane);
      offset = 0;
      rowLength = plane.width;
    }
    gl.pixelStorei(gl.UNPACK_ROW_LENGTH, rowLength);
    const sized = state.width === plane.width && state.height === plane.height && state.bytesPerTexel === plane.bytesPerTexel;
    if (sized) {
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, plane.width, plane.height, format, gl.UNSIGNED_BYTE, source, offset);
    } else {
      gl.texImage2D(gl.TEXTURE_2D, 0, internal, plane.width, plane.height, 0, format, gl.UNSIGNED_BYTE, source, offset);
      Object.assign(state, { width: plane.width, height: plane.height, bytesPerTexel: plane.bytesPerTexel });
    }
    gl.pixelStorei(gl.UNPACK_ROW_LENGTH, 0);
  }

  #repack(bytes: Uint8Array, plane: Plane): Uint8Array {
    const row = plane.width * plane.bytesPerTexel;
    const size = row * plane.height;
    if (!this.#scratch || this.#scratch.byteLength < size) this.#scratch = new Uint8Array(size);
    for (let y = 0; y < plane.height; y++) {
      this.#scratch.set(bytes.subarray(plane.offset + y * plane.stride, plane.offset + y * plane.stride + row), y * row);
    }
    return this.#scratch;
  }

  /** Frees the textures and the program; the canvas stays. */
  dispose(): void {
    for (const t of this.#textures) this.gl.deleteTexture(t.texture);
    this.#textures = [];
    this.gl.deleteProgram(this.#program);
  }
}

function link(gl: WebGL2RenderingContext, vertex: string, fragment: string): WebGLProgram {
  const program = gl.createProgram();
  for (const [type, text] of [
    [gl.VERTEX_SHADER, vertex],
    [gl.FRAGMENT_SHADER, fragment],
  ] as const) {
    const shader = gl.createShader(type)!;
    gl.shaderSource(shader, text);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`frame-source/web shader: ${gl.getShaderInfoLog(shader)}`);
    gl.attachShader(program, shader);
  }
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`frame-source/web program: ${gl.getProgramInfoLog(program)}`);
  return program;
}
