import { createEvaluator } from './src/flags/index.js';
const payload = {version:2, features:[{
      name: 'beta-reports', enabled: true,
      strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'userId', groupId: 'beta-reports' }, constraints: [], segments: [1] }],
      variants: [] },
    { name: 'checkout-v2', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '35', stickiness: 'default', groupId: 'checkout-v2' },
          constraints: [
            { contextName: 'environment', operator: 'IN', values: ['production', 'staging'] },
            { contextName: 'country', operator: 'IN', values: ['NO', 'SE', 'DK', 'FI', 'DE', 'FR', 'NL', 'BE', 'ES', 'IT', 'PL', 'GB'] },
            { contextName: 'accountAgeDays', operator: 'NUM_GTE', value: '7' } ] } ] },
    { name: 'nd', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'nd' } }],
      variants: [{ name: 'a', weight: 333, stickiness: 'default', overrides: [{ contextName: 'userId', values: ['x'] }] }, { name: 'b', weight: 334 }, { name: 'c', weight: 333 }] }],
  segments: [{ id: 1, name: 'paying-eu', constraints: [
        { contextName: 'plan', operator: 'IN', values: ['pro', 'enterprise'] },
        { contextName: 'region', operator: 'STR_STARTS_WITH', values: ['eu-'] } ] } ] };
const e = createEvaluator(payload as any);
const PLANS = ['free', 'free', 'pro', 'enterprise'];
const REGIONS = ['eu-west-1', 'eu-north-1', 'us-east-1', 'ap-south-1'];
const C = ['NO', 'SE', 'US', 'DE', 'FR', 'BR', 'IN', 'GB', 'JP', 'PL', 'ES', 'CA'];
const ENVS = ['production', 'production', 'staging', 'development'];
const ctxs = Array.from({length: 100000}, (_, i) => ({ userId: `user-${Math.floor(Math.random()*1e9).toString(36)}`, sessionId: 's-'+i, appName: 'bench', environment: ENVS[i%4], properties: { country: C[i%12], accountAgeDays: String(i%30), plan: PLANS[(i>>1)%4], region: REGIONS[(i>>2)%4] } }));
for (const name of ['beta-reports', 'checkout-v2', 'nd']) {
  const best: number[] = [];
  for (let r = 0; r < 8; r++) {
    const t = process.cpuUsage(); let s = 0;
    if (name === 'nd') { for (let k = 0; k < 5; k++) for (const c of ctxs) s += e.getVariant(name, c).enabled ? 1 : 0; }
    else for (let k = 0; k < 5; k++) for (const c of ctxs) s += e.isEnabled(name, c) ? 1 : 0;
    const u = process.cpuUsage(t); best.push((u.user + u.system) * 1000 / 500000);
  }
  best.sort((a, b) => a - b);
  console.log(name, 'cpu ns/op min', best[0]!.toFixed(1), 'median', best[4]!.toFixed(1));
}
