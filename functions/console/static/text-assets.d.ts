/** Static files imported as text by the Lambda bundle (esbuild's text loader). */
declare module "uplot/dist/uPlot.min.css" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "*.asset.css" {
  const text: string;
  export default text;
}
