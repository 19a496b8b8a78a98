/* update_policy.c - see update_policy.h. */
#include "update_policy.h"

#include "boot_layout.h"
#include "update_build.h"

void update_policy_builtin(boot_image_policy_t *policy)
{
    policy->pubkey = UPDATE_BUILD_PUBKEY;
    policy->pubkey_len = UPDATE_BUILD_PUBKEY_LEN;
    policy->target = UPDATE_BUILD_TARGET;
    /* a target without a load address yet (nRF52840: docs/ota.md) accepts no image: the check wants RAM load */
    policy->load_address = UPDATE_BUILD_LOAD_ADDRESS;
    policy->load_capacity = UPDATE_BUILD_HAS_LOAD_ADDRESS ? BOOT_LAYOUT_SLOT_SIZE : 0u;
}

const char *update_policy_key_origin(void)
{
    return UPDATE_BUILD_KEY_ORIGIN;
}
