/** The console's browser script, imported as text by the Lambda bundle. */
declare const text: string;
export default text;
