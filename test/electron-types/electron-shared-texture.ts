// Compile-time check (run by test/electron-types.test.ts): what toSharedTextureInfo() returns is assignable
// to Electron's own SharedTextureImportTextureInfo, as importSharedTexture() takes it.
import type { SharedTextureImportTextureInfo, ImportSharedTextureOptions } from 'electron';
import type { Frame, SharedTextureInfo } from '../../dist/index';

export function textureInfo(frame: Frame): SharedTextureImportTextureInfo {
  return frame.toSharedTextureInfo();
}

export function importOptions(frame: Frame): ImportSharedTextureOptions {
  const info: SharedTextureInfo = frame.toSharedTextureInfo();
  return { textureInfo: info, allReferencesReleased: () => frame.release() };
}
