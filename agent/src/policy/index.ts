export { Policy, argvMatches, textMatches, type PolicyDecision } from './policy';
export { PolicyHolder, DEFAULT_POLICY_FILE } from './holder';
export { PolicyError, parsePolicyDocument, type PolicyDocument, type PolicyRule } from './rules';
export { withPolicy, policyDenied } from './enforce';
