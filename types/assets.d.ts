// .proto files are bundled as text (esbuild loader "text", vitest plugin in vitest.config.ts).
declare module '*.proto' {
  const text: string;
  export default text;
}
