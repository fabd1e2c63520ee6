/** `import text from './file?raw'`: the file's text (esbuild.mjs's raw-text plugin; vite natively). */
declare module '*?raw' {
  const text: string;
  export default text;
}
