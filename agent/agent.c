/* SPDX-License-Identifier: Apache-2.0 */
#include "agent.h"

struct agent_config *
agent_config_get(struct agent *agent)
{
    g_mutex_lock(&agent->config_lock);
    struct agent_config *cfg = agent_config_ref(agent->config);
    g_mutex_unlock(&agent->config_lock);
    return cfg;
}

void
agent_config_set(struct agent *agent, struct agent_config *cfg)
{
    g_mutex_lock(&agent->config_lock);
    struct agent_config *old = agent->config;
    agent->config = cfg;
    g_mutex_unlock(&agent->config_lock);
    agent_config_unref(old);
    agent_events_publish(agent->events, AGENT_EVENT_CONFIG_CHANGED, NULL, NULL);
}

struct renewal_policy
agent_renewal_policy_of(struct agent *agent, const char *name, const char *ca)
{
    struct agent_config *cfg = agent_config_get(agent);
    struct renewal_policy p = agent_config_renewal_policy(cfg, name, ca);
    agent_config_unref(cfg);
    return p;
}
