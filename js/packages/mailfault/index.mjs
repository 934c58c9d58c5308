// ESM entry: the implementation lives in index.cjs, so both entries share one
// module instance (one list of running servers, one exit hook).
import mailfault from './index.cjs';

export const { startMailfault, findBinary, formatReport, Mailfault } = mailfault;
export default mailfault;
