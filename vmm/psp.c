// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest state machine and the backend-independent checks of every SEV
 * command (see psp.h). A command is checked here first, so a refused one
 * never reaches the backend and changes nothing; the state moves only
 * when the backend returns 0.
 */
#include "psp.h"

#include <errno.h>

#include "util.h"

static const struct {
	const char *name;
	enum psp_gstate from, to;
} psp_cmds[PSP_CMD_NR] = {
	[PSP_CMD_LAUNCH_START] = {"LAUNCH_START", PSP_GSTATE_UNINIT, PSP_GSTATE_LUPDATE},
	[PSP_CMD_LAUNCH_UPDATE_DATA] = {"LAUNCH_UPDATE_DATA", PSP_GSTATE_LUPDATE,
					PSP_GSTATE_LUPDATE},
	[PSP_CMD_LAUNCH_MEASURE] = {"LAUNCH_MEASURE", PSP_GSTATE_LUPDATE, PSP_GSTATE_LSECRET},
	[PSP_CMD_LAUNCH_FINISH] = {"LAUNCH_FINISH", PSP_GSTATE_LSECRET, PSP_GSTATE_RUNNING},
	[PSP_CMD_SEND_START] = {"SEND_START", PSP_GSTATE_RUNNING, PSP_GSTATE_SUPDATE},
	[PSP_CMD_SEND_UPDATE_DATA] = {"SEND_UPDATE_DATA", PSP_GSTATE_SUPDATE, PSP_GSTATE_SUPDATE},
	[PSP_CMD_SEND_FINISH] = {"SEND_FINISH", PSP_GSTATE_SUPDATE, PSP_GSTATE_SENT},
	[PSP_CMD_SEND_CANCEL] = {"SEND_CANCEL", PSP_GSTATE_SUPDATE, PSP_GSTATE_RUNNING},
	[PSP_CMD_RECEIVE_START] = {"RECEIVE_START", PSP_GSTATE_UNINIT, PSP_GSTATE_RUPDATE},
	[PSP_CMD_RECEIVE_UPDATE_DATA] = {"RECEIVE_UPDATE_DATA", PSP_GSTATE_RUPDATE,
					 PSP_GSTATE_RUPDATE},
	[PSP_CMD_RECEIVE_FINISH] = {"RECEIVE_FINISH", PSP_GSTATE_RUPDATE, PSP_GSTATE_RUNNING},
};

const char *psp_cmd_name(enum psp_cmd cmd)
{
	return (unsigned)cmd < PSP_CMD_NR ? psp_cmds[cmd].name : "?";
}

enum psp_gstate psp_cmd_from(enum psp_cmd cmd)
{
	return (unsigned)cmd < PSP_CMD_NR ? psp_cmds[cmd].from : PSP_GSTATE_NR;
}

enum psp_gstate psp_cmd_to(enum psp_cmd cmd)
{
	return (unsigned)cmd < PSP_CMD_NR ? psp_cmds[cmd].to : PSP_GSTATE_NR;
}

const char *psp_gstate_name(enum psp_gstate s)
{
	static const char *const names[PSP_GSTATE_NR] = {
		"UNINIT", "LUPDATE", "LSECRET", "RUNNING", "SUPDATE", "RUPDATE", "SENT",
	};

	return (unsigned)s < PSP_GSTATE_NR ? names[s] : "?";
}

const char *psp_status_name(int status)
{
	switch (status) {
	case PSP_SUCCESS:
		return "SUCCESS";
	case PSP_INVALID_PLATFORM_STATE:
		return "INVALID_PLATFORM_STATE";
	case PSP_INVALID_GUEST_STATE:
		return "INVALID_GUEST_STATE";
	case PSP_INVALID_CONFIG:
		return "INVALID_CONFIG";
	case PSP_INVALID_LEN:
		return "INVALID_LEN";
	case PSP_ALREADY_OWNED:
		return "ALREADY_OWNED";
	case PSP_INVALID_CERTIFICATE:
		return "INVALID_CERTIFICATE";
	case PSP_POLICY_FAILURE:
		return "POLICY_FAILURE";
	case PSP_INACTIVE:
		return "INACTIVE";
	case PSP_INVALID_ADDRESS:
		return "INVALID_ADDRESS";
	case PSP_BAD_SIGNATURE:
		return "BAD_SIGNATURE";
	case PSP_BAD_MEASUREMENT:
		return "BAD_MEASUREMENT";
	case PSP_INVALID_COMMAND:
		return "INVALID_COMMAND";
	case PSP_UNSUPPORTED:
		return "UNSUPPORTED";
	case PSP_INVALID_PARAM:
		return "INVALID_PARAM";
	case PSP_RESOURCE_LIMIT:
		return "RESOURCE_LIMIT";
	}
	return "?";
}

/* 0 if cmd may run now, else INVALID_GUEST_STATE. */
static int psp_check_state(const struct psp *psp, enum psp_cmd cmd)
{
	return psp->state == psp_cmds[cmd].from ? 0 : PSP_INVALID_GUEST_STATE;
}

/* Backend result: on success the command's transition happens. */
static int psp_complete(struct psp *psp, enum psp_cmd cmd, int ret)
{
	if (ret == 0)
		psp->state = psp_cmds[cmd].to;
	return ret;
}

/*
 * A policy this firmware can honour: reserved bits clear and a minimum API
 * no newer than ours (SEV API chapter 3: LAUNCH_START and RECEIVE_START
 * fail with POLICY_FAILURE otherwise).
 */
static int psp_check_policy(uint32_t policy)
{
	unsigned int major = PSP_POLICY_API_MAJOR(policy), minor = PSP_POLICY_API_MINOR(policy);

	if (policy & PSP_POLICY_RESERVED)
		return PSP_POLICY_FAILURE;
	if (major > PSP_API_MAJOR || (major == PSP_API_MAJOR && minor > PSP_API_MINOR))
		return PSP_POLICY_FAILURE;
	return 0;
}

void psp_destroy(struct psp *psp)
{
	if (psp)
		psp->ops->destroy(psp);
}

int psp_launch_start(struct psp *psp, uint32_t policy)
{
	int ret = psp_check_state(psp, PSP_CMD_LAUNCH_START);

	if (ret)
		return ret;
	ret = psp_check_policy(policy);
	if (ret)
		return ret;
	ret = psp->ops->launch_start(psp, policy);
	if (ret == 0)
		psp->policy = policy;
	return psp_complete(psp, PSP_CMD_LAUNCH_START, ret);
}

int psp_launch_update_data(struct psp *psp, uint64_t gpa, const void *data, size_t len)
{
	int ret = psp_check_state(psp, PSP_CMD_LAUNCH_UPDATE_DATA);

	if (ret)
		return ret;
	if (!data && len)
		return PSP_INVALID_PARAM;
	return psp_complete(psp, PSP_CMD_LAUNCH_UPDATE_DATA,
			    psp->ops->launch_update_data(psp, gpa, data, len));
}

int psp_launch_measure(struct psp *psp, struct psp_measure *out)
{
	int ret = psp_check_state(psp, PSP_CMD_LAUNCH_MEASURE);

	if (ret)
		return ret;
	if (!out)
		return PSP_INVALID_PARAM;
	return psp_complete(psp, PSP_CMD_LAUNCH_MEASURE, psp->ops->launch_measure(psp, out));
}

int psp_launch_finish(struct psp *psp)
{
	int ret = psp_check_state(psp, PSP_CMD_LAUNCH_FINISH);

	return ret ? ret : psp_complete(psp, PSP_CMD_LAUNCH_FINISH, 0);
}

int psp_pdh_export(struct psp *psp, struct psp_pdh_pub *out)
{
	return out ? psp->ops->pdh_export(psp, out) : PSP_INVALID_PARAM;
}

int psp_send_start(struct psp *psp, const struct psp_pdh_pub *target, struct psp_session *session,
		   struct psp_pdh_pub *source)
{
	int ret = psp_check_state(psp, PSP_CMD_SEND_START);

	if (ret)
		return ret;
	if (!target || !session || !source)
		return PSP_INVALID_PARAM;
	if (psp->policy & PSP_POLICY_NOSEND)
		return PSP_POLICY_FAILURE;
	return psp_complete(psp, PSP_CMD_SEND_START,
			    psp->ops->send_start(psp, target, session, source));
}

int psp_send_update_data(struct psp *psp, uint64_t gpa, const void *dram,
			 struct psp_packet_hdr *hdr, void *trans)
{
	int ret = psp_check_state(psp, PSP_CMD_SEND_UPDATE_DATA);

	if (ret)
		return ret;
	if (!dram || !hdr || !trans)
		return PSP_INVALID_PARAM;
	if (!IS_ALIGNED(gpa, PSP_PAGE_SIZE))
		return PSP_INVALID_ADDRESS;
	return psp_complete(psp, PSP_CMD_SEND_UPDATE_DATA,
			    psp->ops->send_update_data(psp, gpa, dram, hdr, trans));
}

int psp_send_finish(struct psp *psp)
{
	int ret = psp_check_state(psp, PSP_CMD_SEND_FINISH);

	if (ret)
		return ret;
	psp->ops->send_forget(psp);
	return psp_complete(psp, PSP_CMD_SEND_FINISH, 0);
}

int psp_send_cancel(struct psp *psp)
{
	int ret = psp_check_state(psp, PSP_CMD_SEND_CANCEL);

	if (ret)
		return ret;
	psp->ops->send_forget(psp);
	return psp_complete(psp, PSP_CMD_SEND_CANCEL, 0);
}

int psp_receive_start(struct psp *psp, uint32_t policy, const struct psp_pdh_pub *source,
		      const struct psp_session *session)
{
	int ret = psp_check_state(psp, PSP_CMD_RECEIVE_START);

	if (ret)
		return ret;
	if (!source || !session)
		return PSP_INVALID_PARAM;
	ret = psp_check_policy(policy);
	if (ret)
		return ret;
	ret = psp->ops->receive_start(psp, policy, source, session);
	if (ret == 0)
		psp->policy = policy;
	return psp_complete(psp, PSP_CMD_RECEIVE_START, ret);
}

int psp_receive_update_data(struct psp *psp, uint64_t gpa, const struct psp_packet_hdr *hdr,
			    const void *trans, size_t len, void *guest_plain)
{
	int ret = psp_check_state(psp, PSP_CMD_RECEIVE_UPDATE_DATA);

	if (ret)
		return ret;
	if (!hdr || !trans || !guest_plain)
		return PSP_INVALID_PARAM;
	if (len != PSP_PAGE_SIZE)
		return PSP_INVALID_LEN;
	if (!IS_ALIGNED(gpa, PSP_PAGE_SIZE))
		return PSP_INVALID_ADDRESS;
	if (hdr->flags & ~PSP_PKT_FLAGS_KNOWN)
		return PSP_INVALID_PARAM;
	return psp_complete(psp, PSP_CMD_RECEIVE_UPDATE_DATA,
			    psp->ops->receive_update_data(psp, gpa, hdr, trans, guest_plain));
}

int psp_receive_finish(struct psp *psp)
{
	int ret = psp_check_state(psp, PSP_CMD_RECEIVE_FINISH);

	if (ret)
		return ret;
	psp->ops->receive_forget(psp);
	return psp_complete(psp, PSP_CMD_RECEIVE_FINISH, 0);
}

static int psp_mem_crypt(struct psp *psp, int enc, uint64_t gpa, const void *in, void *out,
			 size_t len)
{
	if (!in || !out || !IS_ALIGNED(gpa, PSP_PAGE_SIZE) || !IS_ALIGNED(len, PSP_PAGE_SIZE) ||
	    gpa + len < gpa)
		return -EINVAL;
	if (!psp->ops->mem_crypt)
		return -EOPNOTSUPP;
	return psp->ops->mem_crypt(psp, enc, gpa, in, out, len);
}

int psp_mem_encrypt(struct psp *psp, uint64_t gpa, const void *plain, void *out, size_t len)
{
	return psp_mem_crypt(psp, 1, gpa, plain, out, len);
}

int psp_mem_decrypt(struct psp *psp, uint64_t gpa, const void *cipher, void *out, size_t len)
{
	return psp_mem_crypt(psp, 0, gpa, cipher, out, len);
}
