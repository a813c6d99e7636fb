/*
 * The Node parser's key tables, and the lookup of a key name as yajl
 * passes it.
 */
#include <string.h>

#include "k8s_keys.h"

const unsigned char kp_vtype[V_COUNT] = {
	[V_LIST] = T_MAP, [V_STATUSDOC] = T_MAP, [V_EVENT] = T_MAP,
	[V_OBJECT] = T_MAP, [V_ITEMS] = T_ARRAY, [V_ITEM] = T_MAP,
	[V_LISTMETA] = T_MAP, [V_META] = T_MAP, [V_SPEC] = T_MAP,
	[V_PODCIDRS] = T_ARRAY, [V_NSTATUS] = T_MAP, [V_ADDRS] = T_ARRAY,
	[V_ADDR] = T_MAP, [V_CONDS] = T_ARRAY, [V_COND] = T_MAP,
	[V_NODEINFO] = T_MAP,
	[V_KIND] = T_STRING, [V_CODE] = T_NUMBER, [V_REASON] = T_STRING,
	[V_MESSAGE] = T_STRING, [V_TYPE] = T_STRING, [V_LISTRV] = T_STRING,
	[V_CONT] = T_STRING, [V_NAME] = T_STRING, [V_RV] = T_STRING,
	[V_PODCIDR] = T_STRING, [V_PODCIDRS_ELT] = T_STRING,
	[V_ADDRTYPE] = T_STRING, [V_ADDRESS] = T_STRING,
	[V_CONDTYPE] = T_STRING, [V_CONDSTATUS] = T_STRING,
	[V_MACHINEID] = T_STRING, [V_SYSTEMUUID] = T_STRING,
	[V_BOOTID] = T_STRING,
};

const char *const kp_tname[] = {
	[T_MAP] = "an object", [T_ARRAY] = "an array",
	[T_STRING] = "a string", [T_NUMBER] = "a number",
};

/* What each kept array holds. */
const unsigned char kp_elem[V_COUNT] = {
	[V_ITEMS] = V_ITEM, [V_PODCIDRS] = V_PODCIDRS_ELT,
	[V_ADDRS] = V_ADDR, [V_CONDS] = V_COND,
};

const char *const kp_kname[K_COUNT] = {
	[K_KIND] = "kind", [K_NAME] = "name", [K_SPEC] = "spec",
	[K_CODE] = "code", [K_TYPE] = "type", [K_ITEMS] = "items",
	[K_STATUS] = "status", [K_REASON] = "reason", [K_OBJECT] = "object",
	[K_BOOTID] = "bootID", [K_MESSAGE] = "message",
	[K_PODCIDR] = "podCIDR", [K_ADDRESS] = "address",
	[K_METADATA] = "metadata", [K_CONTINUE] = "continue",
	[K_PODCIDRS] = "podCIDRs", [K_NODEINFO] = "nodeInfo",
	[K_ADDRESSES] = "addresses", [K_MACHINEID] = "machineID",
	[K_CONDITIONS] = "conditions", [K_SYSTEMUUID] = "systemUUID",
	[K_RV] = "resourceVersion",
};

/* In each kept object, what the value of each key is. */
const unsigned char kp_keymap[V_COUNT][K_COUNT] = {
	[V_LIST] = { [K_KIND] = V_KIND, [K_METADATA] = V_LISTMETA,
	    [K_ITEMS] = V_ITEMS, [K_CODE] = V_CODE, [K_REASON] = V_REASON,
	    [K_MESSAGE] = V_MESSAGE },
	[V_STATUSDOC] = { [K_CODE] = V_CODE, [K_REASON] = V_REASON,
	    [K_MESSAGE] = V_MESSAGE },
	[V_EVENT] = { [K_TYPE] = V_TYPE, [K_OBJECT] = V_OBJECT },
	[V_OBJECT] = { [K_METADATA] = V_META, [K_SPEC] = V_SPEC,
	    [K_STATUS] = V_NSTATUS, [K_CODE] = V_CODE, [K_REASON] = V_REASON,
	    [K_MESSAGE] = V_MESSAGE },
	[V_ITEM] = { [K_METADATA] = V_META, [K_SPEC] = V_SPEC,
	    [K_STATUS] = V_NSTATUS },
	[V_LISTMETA] = { [K_RV] = V_LISTRV, [K_CONTINUE] = V_CONT },
	[V_META] = { [K_NAME] = V_NAME, [K_RV] = V_RV },
	[V_SPEC] = { [K_PODCIDR] = V_PODCIDR, [K_PODCIDRS] = V_PODCIDRS },
	[V_NSTATUS] = { [K_ADDRESSES] = V_ADDRS, [K_CONDITIONS] = V_CONDS,
	    [K_NODEINFO] = V_NODEINFO },
	[V_ADDR] = { [K_TYPE] = V_ADDRTYPE, [K_ADDRESS] = V_ADDRESS },
	[V_COND] = { [K_TYPE] = V_CONDTYPE, [K_STATUS] = V_CONDSTATUS },
	[V_NODEINFO] = { [K_MACHINEID] = V_MACHINEID,
	    [K_SYSTEMUUID] = V_SYSTEMUUID, [K_BOOTID] = V_BOOTID },
};

/* A key name as yajl passes it; a switch on length, then memcmp. */
int
kp_key_id(const unsigned char *k, size_t len)
{
#define IS(s, id)	if (memcmp(k, s, len) == 0) return id
	switch (len) {
	case 4:
		IS("name", K_NAME);
		IS("type", K_TYPE);
		IS("kind", K_KIND);
		IS("spec", K_SPEC);
		IS("code", K_CODE);
		break;
	case 5:
		IS("items", K_ITEMS);
		break;
	case 6:
		IS("status", K_STATUS);
		IS("object", K_OBJECT);
		IS("reason", K_REASON);
		IS("bootID", K_BOOTID);
		break;
	case 7:
		IS("address", K_ADDRESS);
		IS("podCIDR", K_PODCIDR);
		IS("message", K_MESSAGE);
		break;
	case 8:
		IS("metadata", K_METADATA);
		IS("podCIDRs", K_PODCIDRS);
		IS("nodeInfo", K_NODEINFO);
		IS("continue", K_CONTINUE);
		break;
	case 9:
		IS("addresses", K_ADDRESSES);
		IS("machineID", K_MACHINEID);
		break;
	case 10:
		IS("conditions", K_CONDITIONS);
		IS("systemUUID", K_SYSTEMUUID);
		break;
	case 15:
		IS("resourceVersion", K_RV);
		break;
	}
#undef IS
	return K_OTHER;
}
