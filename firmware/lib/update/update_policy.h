/*
 * update_policy.h - what this build accepts as an image (boot_image_policy_t): the public key built in, the
 * target's name and its RAM-load address, from the header update_build.py generates before the build
 * (HEARTBEAT_FIRMWARE_PUBKEY for a release, else the machine's development key: docs/ota.md). The bootloader
 * and the application check images against the same policy.
 */
#ifndef UPDATE_POLICY_H
#define UPDATE_POLICY_H

#include "boot_image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills `policy` with the build's key, target and load address; the RAM there holds a slot's worth. */
void update_policy_builtin(boot_image_policy_t *policy);

/* "release" (HEARTBEAT_FIRMWARE_PUBKEY) or "development" (the .state/ development key). */
const char *update_policy_key_origin(void);

#ifdef __cplusplus
}
#endif

#endif /* UPDATE_POLICY_H */
