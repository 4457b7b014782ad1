declare module 'node-gyp-build' {
  /** Loads the addon of the package at `dir`: a local build/ first, then prebuilds/<platform>-<arch>/. */
  function nodeGypBuild(dir: string): unknown;
  export default nodeGypBuild;
}
