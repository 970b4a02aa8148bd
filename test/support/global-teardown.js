import { register } from 'tsx/esm/api';

const unregister = register();
const { stopServices } = await import('./services-teardown.ts');
await unregister();

export default stopServices;
