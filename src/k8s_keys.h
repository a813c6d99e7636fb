/*
 * The keys of a NodeList, a watch event and a Status that the Node
 * parser keeps, as tables: what a value is from its key and the
 * object it sits in, and the JSON type it must have.  Data and one
 * lookup, for k8s_parse.c.
 */
#ifndef KN_K8S_KEYS_H
#define KN_K8S_KEYS_H

#include <stddef.h>

/*
 * What a value is, from where it sits.  The containers are also the
 * kinds of frame.  V_SKIP is zero so that any key not in kp_keymap
 * is skipped.
 */
enum kp_value {
	V_SKIP,
	/* Containers. */
	V_LIST,		/* a NodeList document, or a Status in its place */
	V_STATUSDOC,	/* a Status document */
	V_EVENT,	/* one watch event */
	V_OBJECT,	/* a watch event's object: a Node or a Status */
	V_ITEMS,
	V_ITEM,		/* a Node in a list */
	V_LISTMETA,
	V_META,
	V_SPEC,
	V_PODCIDRS,
	V_NSTATUS,	/* a Node's status */
	V_ADDRS,
	V_ADDR,
	V_CONDS,
	V_COND,
	V_NODEINFO,
	/* Scalars. */
	V_KIND,
	V_CODE,
	V_REASON,
	V_MESSAGE,
	V_TYPE,		/* the watch event's type */
	V_LISTRV,
	V_CONT,
	V_NAME,
	V_RV,
	V_PODCIDR,
	V_PODCIDRS_ELT,
	V_ADDRTYPE,
	V_ADDRESS,
	V_CONDTYPE,
	V_CONDSTATUS,
	V_MACHINEID,
	V_SYSTEMUUID,
	V_BOOTID,
	V_COUNT
};

enum kp_json { T_NONE, T_MAP, T_ARRAY, T_STRING, T_NUMBER };

/* The keys that matter anywhere; K_OTHER is everything else. */
enum kp_key {
	K_OTHER,
	K_KIND, K_NAME, K_SPEC, K_CODE, K_TYPE, K_ITEMS, K_STATUS, K_REASON,
	K_OBJECT, K_BOOTID, K_MESSAGE, K_PODCIDR, K_ADDRESS, K_METADATA,
	K_CONTINUE, K_PODCIDRS, K_NODEINFO, K_ADDRESSES, K_MACHINEID,
	K_CONDITIONS, K_SYSTEMUUID, K_RV,
	K_COUNT
};

extern const unsigned char kp_vtype[V_COUNT];	/* enum kp_json */
extern const char *const kp_tname[];		/* by enum kp_json */
extern const unsigned char kp_elem[V_COUNT];
extern const char *const kp_kname[K_COUNT];
extern const unsigned char kp_keymap[V_COUNT][K_COUNT];

int	 kp_key_id(const unsigned char *, size_t);

#endif
