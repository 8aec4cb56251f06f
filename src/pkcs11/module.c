// SPDX-License-Identifier: Apache-2.0
/*
 * module.c — the PKCS#11 entry points of libselfcert-pkcs11.so and their function list: the one
 * slot and its token (one SP), login semantics, argument checks and the operation protocol
 * (size queries, CKR_BUFFER_TOO_SMALL), over session.c's sessions, objects.c's objects and
 * ops.c's operations. Only C_GetFunctionList and the C_* functions are exported.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include "p11.h"
#include "p11_config.h"
#include "p11_mech.h"
#include "p11_objects.h"
#include "p11_ops.h"
#include "p11_session.h"

#define P11_EXPORT __attribute__((visibility("default")))

#define P11_MANUFACTURER "selfcert"
#define P11_LIBRARY_DESC "selfcert secure processor"
#define P11_SLOT_DESC "selfcert secure processor (SP socket)"
#define P11_MODEL "selfcert SP v1"

static CK_FUNCTION_LIST function_list;

/* ---- small helpers ---- */

/* PKCS#11 text fields: blank-padded, not terminated. */
static void pad(unsigned char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, len < n ? len : n);
}

static CK_RV check_slot(CK_SLOT_ID slot)
{
	return slot == P11_SLOT_ID ? CKR_OK : CKR_SLOT_ID_INVALID;
}

/*
 * Ask the SP who it is, on a connection of its own. CKR_OK if it serves as a token (locked),
 * CKR_TOKEN_NOT_PRESENT if it is not configured, not reachable or not locked.
 */
static CK_RV probe(struct sc_sp_info *info)
{
	struct sc_sp *sp = NULL;
	sc_err r;

	memset(info, 0, sizeof(*info));
	if (p11_module.cfg.sp[0] == '\0')
		return CKR_TOKEN_NOT_PRESENT;
	if ((r = sc_sp_connect(p11_module.cfg.sp, &sp)) != SC_OK) {
		p11_log("connecting to the SP", r);
		return CKR_TOKEN_NOT_PRESENT;
	}
	r = sc_sp_info(sp, info);
	sc_sp_close(sp);
	if (r != SC_OK) {
		p11_log("asking the SP for INFO", r);
		return CKR_TOKEN_NOT_PRESENT;
	}
	if (info->state != SC_SP_STATE_LOCKED) {
		sc_sp_info_clear(info);
		return CKR_TOKEN_NOT_PRESENT;
	}
	return CKR_OK;
}

/* ---- general ---- */

P11_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	return p11_module_initialize(pInitArgs);
}

P11_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	return p11_module_finalize();
}

P11_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = CRYPTOKI_VERSION_MAJOR;
	pInfo->cryptokiVersion.minor = CRYPTOKI_VERSION_MINOR;
	pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), P11_MANUFACTURER);
	pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription), P11_LIBRARY_DESC);
	pInfo->libraryVersion.major = 0;
	pInfo->libraryVersion.minor = 1;
	return CKR_OK;
}

P11_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	if (ppFunctionList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppFunctionList = &function_list;
	return CKR_OK;
}

/* ---- slot and token ---- */

P11_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
    CK_ULONG_PTR pulCount)
{
	struct sc_sp_info info;
	CK_ULONG n = 1;
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK)
		return rv;
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	if (tokenPresent) {
		ERR_set_mark();
		n = probe(&info) == CKR_OK ? 1 : 0;
		sc_sp_info_clear(&info);
		ERR_pop_to_mark();
	}
	if (pSlotList == NULL) {
		*pulCount = n;
		return CKR_OK;
	}
	if (*pulCount < n) {
		*pulCount = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (n == 1)
		pSlotList[0] = P11_SLOT_ID;
	*pulCount = n;
	return CKR_OK;
}

P11_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	struct sc_sp_info info;
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof(*pInfo));
	pad(pInfo->slotDescription, sizeof(pInfo->slotDescription), P11_SLOT_DESC);
	pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), P11_MANUFACTURER);
	/* The token comes and goes with the SP (not running, not yet locked): removable. */
	pInfo->flags = CKF_HW_SLOT | CKF_REMOVABLE_DEVICE;
	ERR_set_mark();
	if (probe(&info) == CKR_OK)
		pInfo->flags |= CKF_TOKEN_PRESENT;
	sc_sp_info_clear(&info);
	ERR_pop_to_mark();
	pInfo->hardwareVersion.major = 1;
	pInfo->firmwareVersion.major = SC_SP_PROTO_VERSION;
	return CKR_OK;
}

P11_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	struct sc_sp_info info;
	CK_ULONG sessions, rw_sessions;
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	ERR_set_mark();
	rv = probe(&info);
	ERR_pop_to_mark();
	if (rv != CKR_OK)
		return rv;
	p11_session_count(&sessions, &rw_sessions);
	memset(pInfo, 0, sizeof(*pInfo));
	pad(pInfo->label, sizeof(pInfo->label),
	    p11_module.cfg.label[0] ? p11_module.cfg.label : info.device_id);
	pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), P11_MANUFACTURER);
	pad(pInfo->model, sizeof(pInfo->model), P11_MODEL);
	pad(pInfo->serialNumber, sizeof(pInfo->serialNumber), info.device_id);
	/*
	 * No PIN: the SP has none to check (its socket's peer credentials are the access control),
	 * so CKF_LOGIN_REQUIRED is off. The token's objects come from the SP and the host's folder
	 * and none can be created, changed or destroyed here; yet read/write sessions are allowed
	 * (no CKF_WRITE_PROTECTED), because stock tools open them to derive session keys.
	 */
	pInfo->flags = CKF_TOKEN_INITIALIZED;
	pInfo->ulMaxSessionCount = P11_MAX_SESSIONS;
	pInfo->ulSessionCount = sessions;
	pInfo->ulMaxRwSessionCount = P11_MAX_SESSIONS;
	pInfo->ulRwSessionCount = rw_sessions;
	pInfo->ulMaxPinLen = 0;
	pInfo->ulMinPinLen = 0;
	pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	pInfo->hardwareVersion.major = 1;
	pInfo->firmwareVersion.major = SC_SP_PROTO_VERSION;
	pad(pInfo->utcTime, sizeof(pInfo->utcTime), "");
	sc_sp_info_clear(&info);
	return CKR_OK;
}

P11_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	CK_RV rv;

	(void)flags;
	(void)pSlot;
	if ((rv = p11_check_init()) != CKR_OK)
		return rv;
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	return CKR_FUNCTION_NOT_SUPPORTED;
}

P11_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
    CK_ULONG_PTR pulCount)
{
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	return p11_mech_list(pMechanismList, pulCount);
}

P11_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
    CK_MECHANISM_INFO_PTR pInfo)
{
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	return p11_mech_info(type, pInfo);
}

P11_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
    CK_UTF8CHAR_PTR pLabel)
{
	CK_RV rv;

	(void)pPin;
	(void)ulPinLen;
	(void)pLabel;
	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	/* The SP is personalised at the factory and locked for good. */
	return CKR_TOKEN_WRITE_PROTECTED;
}

/* There is no PIN to set: read-only sessions may not try, read/write ones find nothing to do. */
static CK_RV no_pin(CK_SESSION_HANDLE hSession)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = (s->flags & CKF_RW_SESSION) ? CKR_FUNCTION_NOT_SUPPORTED
		                                 : CKR_SESSION_READ_ONLY;
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	(void)pPin;
	(void)ulPinLen;
	return no_pin(hSession);
}

P11_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
    CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	(void)pOldPin;
	(void)ulOldLen;
	(void)pNewPin;
	(void)ulNewLen;
	return no_pin(hSession);
}

/* ---- sessions ---- */

P11_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	CK_RV rv;

	(void)pApplication;
	(void)Notify; /* no callbacks: nothing here waits for the user */
	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	if (phSession == NULL)
		return CKR_ARGUMENTS_BAD;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	return p11_session_open(flags, phSession);
}

P11_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK)
		return rv;
	return p11_session_close(hSession);
}

P11_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	CK_RV rv;

	if ((rv = p11_check_init()) != CKR_OK || (rv = check_slot(slotID)) != CKR_OK)
		return rv;
	p11_session_close_all();
	return CKR_OK;
}

P11_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 1, &s);

	if (rv == CKR_OK && pInfo == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK) {
		memset(pInfo, 0, sizeof(*pInfo));
		pInfo->slotID = P11_SLOT_ID;
		p11_lock(p11_module.mutex);
		if (s->flags & CKF_RW_SESSION)
			pInfo->state = p11_module.logged_in ? CKS_RW_USER_FUNCTIONS
			                                    : CKS_RW_PUBLIC_SESSION;
		else
			pInfo->state = p11_module.logged_in ? CKS_RO_USER_FUNCTIONS
			                                    : CKS_RO_PUBLIC_SESSION;
		p11_unlock(p11_module.mutex);
		pInfo->flags = s->flags;
		/* The selfcert error that broke the session, as a positive number (0: none). */
		pInfo->ulDeviceError = s->broken ? (CK_ULONG)(-(long)s->broken_by) : 0;
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG_PTR pulOperationStateLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)pOperationState;
	(void)pulOperationStateLen;
	if (rv == CKR_OK)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
    CK_OBJECT_HANDLE hAuthenticationKey)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)pOperationState;
	(void)ulOperationStateLen;
	(void)hEncryptionKey;
	(void)hAuthenticationKey;
	if (rv == CKR_OK)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	p11_session_put(s);
	return rv;
}

/*
 * Login: the token needs none (CKF_LOGIN_REQUIRED is off) and keeps no PIN, so C_Login as the
 * user accepts any PIN and only changes the sessions' state, for applications that log in
 * regardless. There is no security officer (CKR_USER_TYPE_INVALID; with a read-only session
 * open, CKR_SESSION_READ_ONLY_EXISTS as v2.40 §5.6 requires first).
 */
P11_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK && pPin == NULL && ulPinLen > 0)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK) {
		p11_lock(p11_module.mutex);
		if (userType == CKU_USER)
			rv = p11_module.logged_in ? CKR_USER_ALREADY_LOGGED_IN : CKR_OK;
		else if (userType == CKU_SO)
			rv = p11_session_ro_exists() ? CKR_SESSION_READ_ONLY_EXISTS
			                             : CKR_USER_TYPE_INVALID;
		else if (userType == CKU_CONTEXT_SPECIFIC)
			rv = CKR_OPERATION_NOT_INITIALIZED; /* no key asks for it */
		else
			rv = CKR_USER_TYPE_INVALID;
		if (rv == CKR_OK)
			p11_module.logged_in = 1;
		p11_unlock(p11_module.mutex);
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK) {
		p11_lock(p11_module.mutex);
		rv = p11_module.logged_in ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
		p11_module.logged_in = 0;
		p11_unlock(p11_module.mutex);
	}
	p11_session_put(s);
	return rv;
}

/* ---- objects ---- */

/* Objects come from the SP and the host's folder only; nothing is created here. */
P11_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)pTemplate;
	(void)ulCount;
	(void)phObject;
	if (rv == CKR_OK)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)pTemplate;
	(void)ulCount;
	(void)phNewObject;
	if (rv == CKR_OK)
		rv = p11_objects_find(&s->objs, hObject) == NULL
		    ? CKR_OBJECT_HANDLE_INVALID
		    : CKR_ACTION_PROHIBITED; /* CKA_COPYABLE is false on every object */
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	struct p11_session *s;
	struct p11_object *o;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK) {
		if ((o = p11_objects_find(&s->objs, hObject)) == NULL)
			rv = CKR_OBJECT_HANDLE_INVALID;
		else if (o->token)
			rv = CKR_ACTION_PROHIBITED; /* CKA_DESTROYABLE false: they are the SP's */
		else {
			p11_objects_remove(&s->objs, hObject);
			s->n_secrets--;
		}
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ULONG_PTR pulSize)
{
	struct p11_session *s;
	struct p11_object *o;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	size_t i;

	if (rv == CKR_OK && pulSize == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && (o = p11_objects_find(&s->objs, hObject)) == NULL)
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OK) {
		*pulSize = 0;
		for (i = 0; i < o->n_attrs; i++)
			*pulSize += o->attrs[i].len;
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct p11_session *s;
	struct p11_object *o;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK && pTemplate == NULL && ulCount > 0)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && (o = p11_objects_find(&s->objs, hObject)) == NULL)
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OK)
		rv = p11_object_get_attrs(o, pTemplate, ulCount);
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct p11_session *s;
	struct p11_object *o;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)pTemplate;
	(void)ulCount;
	if (rv == CKR_OK) {
		if ((o = p11_objects_find(&s->objs, hObject)) == NULL)
			rv = CKR_OBJECT_HANDLE_INVALID;
		else if (o->token && !(s->flags & CKF_RW_SESSION))
			rv = CKR_SESSION_READ_ONLY;
		else
			rv = CKR_ACTION_PROHIBITED; /* CKA_MODIFIABLE is false on every object */
	}
	p11_session_put(s);
	return rv;
}

static void find_end(struct p11_session *s)
{
	free(s->found);
	s->found = NULL;
	s->n_found = s->pos_found = 0;
	s->finding = 0;
}

P11_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulCount)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	size_t i;

	if (rv == CKR_OK && s->finding)
		rv = CKR_OPERATION_ACTIVE;
	if (rv == CKR_OK && pTemplate == NULL && ulCount > 0)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		p11_session_refresh(s); /* a renewal since the session opened: the new key */
	if (rv == CKR_OK && s->objs.n > 0 &&
	    (s->found = calloc(s->objs.n, sizeof(s->found[0]))) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK) {
		/* The matches are fixed now: objects do not change under a search. */
		for (i = 0; i < s->objs.n; i++)
			if (p11_object_matches(s->objs.v[i], pTemplate, ulCount))
				s->found[s->n_found++] = s->objs.v[i]->handle;
		s->finding = 1;
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	CK_ULONG n = 0;

	if (rv == CKR_OK && !s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK && (pulObjectCount == NULL || (phObject == NULL && ulMaxObjectCount > 0)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK) {
		while (n < ulMaxObjectCount && s->pos_found < s->n_found)
			phObject[n++] = s->found[s->pos_found++];
		*pulObjectCount = n;
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK && !s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK)
		find_end(s);
	p11_session_put(s);
	return rv;
}

/* ---- signing ---- */

/* The private key object for an operation; CKR_KEY_HANDLE_INVALID if there is no such object. */
static CK_RV key_object(struct p11_session *s, CK_OBJECT_HANDLE h, struct p11_object **out)
{
	*out = p11_objects_find(&s->objs, h);
	return *out != NULL ? CKR_OK : CKR_KEY_HANDLE_INVALID;
}

static CK_RV op_init(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey,
    int decrypt)
{
	struct p11_session *s;
	struct p11_object *key;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	struct p11_op *op = s != NULL ? (decrypt ? &s->decrypt : &s->sign) : NULL;

	if (rv == CKR_OK && pMechanism == NULL)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && op->active)
		rv = CKR_OPERATION_ACTIVE;
	if (rv == CKR_OK)
		rv = key_object(s, hKey, &key);
	if (rv == CKR_OK) {
		ERR_set_mark();
		rv = decrypt ? p11_decrypt_init(op, pMechanism, key)
		             : p11_sign_init(op, pMechanism, key);
		ERR_pop_to_mark();
		if (rv != CKR_OK)
			p11_op_end(op);
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey)
{
	return op_init(hSession, pMechanism, hKey, 0);
}

/*
 * The end of a signature (C_Sign with its data, C_SignFinal): the length query and a buffer too
 * small leave the operation running (v2.40 §5.11); anything else ends it.
 */
static CK_RV sign_out(struct p11_session *s, const CK_BYTE *data, CK_ULONG len, int one_shot,
    CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	struct p11_op *op = &s->sign;
	uint8_t *out = NULL;
	size_t out_len = 0, need;
	CK_RV rv;

	if (!op->active)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (sig_len == NULL || (one_shot && data == NULL && len > 0)) {
		p11_op_end(op);
		return CKR_ARGUMENTS_BAD;
	}
	/* C_Sign cannot finish what C_SignUpdate began. */
	if (one_shot && op->updated) {
		p11_op_end(op);
		return CKR_OPERATION_ACTIVE;
	}
	need = p11_op_out_len(op);
	if (sig == NULL) {
		*sig_len = need;
		return CKR_OK;
	}
	if (*sig_len < need) {
		*sig_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	ERR_set_mark();
	rv = one_shot ? p11_op_update(op, data, len) : CKR_OK;
	if (rv == CKR_OK)
		rv = p11_sign_finish(op, s, &out, &out_len);
	ERR_pop_to_mark();
	if (rv == CKR_OK) {
		memcpy(sig, out, out_len);
		*sig_len = out_len;
	}
	OPENSSL_free(out);
	p11_op_end(op);
	return rv;
}

P11_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = sign_out(s, pData, ulDataLen, 1, pSignature, pulSignatureLen);
	else if (rv == CKR_DEVICE_ERROR)
		p11_op_end(&s->sign);
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK && !s->sign.active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (rv == CKR_OK && pPart == NULL && ulPartLen > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (rv == CKR_OK)
		rv = p11_op_update(&s->sign, pPart, ulPartLen);
	if (rv == CKR_OK)
		s->sign.updated = 1;
	else if (s != NULL && rv != CKR_OPERATION_NOT_INITIALIZED &&
	    rv != CKR_SESSION_HANDLE_INVALID)
		p11_op_end(&s->sign);
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = sign_out(s, NULL, 0, 0, pSignature, pulSignatureLen);
	else if (rv == CKR_DEVICE_ERROR)
		p11_op_end(&s->sign);
	p11_session_put(s);
	return rv;
}

/* ---- decryption ---- */

P11_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey)
{
	return op_init(hSession, pMechanism, hKey, 1);
}

/* The plaintext out (C_Decrypt, C_DecryptFinal), kept across CKR_BUFFER_TOO_SMALL. */
static CK_RV decrypt_out(struct p11_session *s, CK_BYTE_PTR data, CK_ULONG_PTR data_len)
{
	struct p11_op *op = &s->decrypt;
	CK_RV rv;

	if (data == NULL && op->result == NULL) {
		*data_len = p11_op_out_len(op); /* the most it can be */
		return CKR_OK;
	}
	ERR_set_mark();
	rv = p11_decrypt_finish(op, s);
	ERR_pop_to_mark();
	if (rv != CKR_OK) {
		p11_op_end(op);
		return rv;
	}
	if (data == NULL) {
		*data_len = op->result_len;
		return CKR_OK;
	}
	if (*data_len < op->result_len) {
		*data_len = op->result_len;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (op->result_len > 0)
		memcpy(data, op->result, op->result_len);
	*data_len = op->result_len;
	p11_op_end(op);
	return CKR_OK;
}

P11_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
    CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	struct p11_op *op = s != NULL ? &s->decrypt : NULL;

	if (rv == CKR_OK && !op->active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (rv == CKR_OK &&
	    (pulDataLen == NULL || (pEncryptedData == NULL && ulEncryptedDataLen > 0))) {
		p11_op_end(op);
		rv = CKR_ARGUMENTS_BAD;
	} else if (rv == CKR_OK && op->updated) {
		p11_op_end(op);
		rv = CKR_OPERATION_ACTIVE;
	} else if (rv == CKR_OK) {
		/* The ciphertext is taken once: a second call after a too-small buffer reuses it. */
		if (op->result == NULL && pData != NULL) {
			op->len = 0;
			rv = p11_op_update(op, pEncryptedData, ulEncryptedDataLen);
		}
		if (rv == CKR_OK && op->result == NULL && pData == NULL &&
		    ulEncryptedDataLen != op->key_bytes)
			rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
		if (rv == CKR_OK)
			rv = decrypt_out(s, pData, pulDataLen);
		else
			p11_op_end(op);
	} else if (rv == CKR_DEVICE_ERROR) {
		p11_op_end(op);
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	struct p11_op *op = s != NULL ? &s->decrypt : NULL;

	(void)pPart;
	if (rv == CKR_OK && !op->active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (rv == CKR_OK &&
	    (pulPartLen == NULL || (pEncryptedPart == NULL && ulEncryptedPartLen > 0))) {
		p11_op_end(op);
		rv = CKR_ARGUMENTS_BAD;
	} else if (rv == CKR_OK) {
		/* OAEP is one block: gathered here, decrypted by C_DecryptFinal. */
		if ((rv = p11_op_update(op, pEncryptedPart, ulEncryptedPartLen)) == CKR_OK) {
			op->updated = 1;
			*pulPartLen = 0;
		} else {
			p11_op_end(op);
		}
	} else if (rv == CKR_DEVICE_ERROR) {
		p11_op_end(op);
	}
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
    CK_ULONG_PTR pulLastPartLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	struct p11_op *op = s != NULL ? &s->decrypt : NULL;

	if (rv == CKR_OK && !op->active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (rv == CKR_OK && pulLastPartLen == NULL) {
		p11_op_end(op);
		rv = CKR_ARGUMENTS_BAD;
	} else if (rv == CKR_OK) {
		rv = decrypt_out(s, pLastPart, pulLastPartLen);
	} else if (rv == CKR_DEVICE_ERROR) {
		p11_op_end(op);
	}
	p11_session_put(s);
	return rv;
}

/* ---- key agreement ---- */

P11_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
    CK_OBJECT_HANDLE_PTR phKey)
{
	struct p11_session *s;
	struct p11_object *key, *secret_obj = NULL;
	CK_RV rv = p11_session_get(hSession, 0, &s);
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	uint8_t *secret = NULL;
	size_t secret_len = 0;

	if (rv == CKR_OK &&
	    (pMechanism == NULL || phKey == NULL || (pTemplate == NULL && ulAttributeCount > 0)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && s->n_secrets >= P11_MAX_SESSION_OBJECTS)
		rv = CKR_DEVICE_MEMORY;
	if (rv == CKR_OK)
		rv = key_object(s, hBaseKey, &key);
	if (rv == CKR_OK) {
		ERR_set_mark();
		rv = p11_derive(pMechanism, key, s, &secret, &secret_len);
		ERR_pop_to_mark();
	}
	if (rv == CKR_OK) {
		p11_lock(p11_module.mutex);
		h = P11_H_SECRETS | ++p11_module.next_secret;
		p11_unlock(p11_module.mutex);
		rv = p11_object_new_secret(h, pTemplate, ulAttributeCount, secret, secret_len,
		    (s->flags & CKF_RW_SESSION) != 0, &secret_obj);
	}
	if (rv == CKR_OK && (rv = p11_objects_add(&s->objs, secret_obj)) == CKR_OK) {
		s->n_secrets++;
		*phKey = h;
	}
	OPENSSL_clear_free(secret, secret_len);
	p11_session_put(s);
	return rv;
}

/* ---- what the token does not do ---- */

/*
 * Operations no mechanism of ours offers: their *Init answers CKR_MECHANISM_INVALID, and the
 * rest CKR_OPERATION_NOT_INITIALIZED, which is exactly the state they are always in.
 */
static CK_RV no_mechanism(CK_SESSION_HANDLE hSession, const void *mechanism)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = mechanism == NULL ? CKR_ARGUMENTS_BAD : CKR_MECHANISM_INVALID;
	p11_session_put(s);
	return rv;
}

static CK_RV never_initialized(CK_SESSION_HANDLE hSession)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
	(void)pData;
	(void)ulDataLen;
	(void)pEncryptedData;
	(void)pulEncryptedDataLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	(void)pPart;
	(void)ulPartLen;
	(void)pEncryptedPart;
	(void)pulEncryptedPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
    CK_ULONG_PTR pulLastEncryptedPartLen)
{
	(void)pLastEncryptedPart;
	(void)pulLastEncryptedPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	(void)pData;
	(void)ulDataLen;
	(void)pDigest;
	(void)pulDigestLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	(void)pPart;
	(void)ulPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
    CK_ULONG_PTR pulDigestLen)
{
	(void)pDigest;
	(void)pulDigestLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	(void)pData;
	(void)ulDataLen;
	(void)pSignature;
	(void)pulSignatureLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	(void)pData;
	(void)ulDataLen;
	(void)pSignature;
	(void)ulSignatureLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	(void)pPart;
	(void)ulPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen)
{
	(void)pSignature;
	(void)ulSignatureLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	(void)pSignature;
	(void)ulSignatureLen;
	(void)pData;
	(void)pulDataLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	(void)pPart;
	(void)ulPartLen;
	(void)pEncryptedPart;
	(void)pulEncryptedPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	(void)pEncryptedPart;
	(void)ulEncryptedPartLen;
	(void)pPart;
	(void)pulPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	(void)pPart;
	(void)ulPartLen;
	(void)pEncryptedPart;
	(void)pulEncryptedPartLen;
	return never_initialized(hSession);
}

P11_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	(void)pEncryptedPart;
	(void)ulEncryptedPartLen;
	(void)pPart;
	(void)pulPartLen;
	return never_initialized(hSession);
}

/* No key generation, wrapping or unwrapping mechanism: the SP makes keys only on a profile. */
P11_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey)
{
	(void)pTemplate;
	(void)ulCount;
	(void)phKey;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
    CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
    CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	(void)pPublicKeyTemplate;
	(void)ulPublicKeyAttributeCount;
	(void)pPrivateKeyTemplate;
	(void)ulPrivateKeyAttributeCount;
	(void)phPublicKey;
	(void)phPrivateKey;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
    CK_ULONG_PTR pulWrappedKeyLen)
{
	(void)hWrappingKey;
	(void)hKey;
	(void)pWrappedKey;
	(void)pulWrappedKeyLen;
	return no_mechanism(hSession, pMechanism);
}

P11_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	(void)hUnwrappingKey;
	(void)pWrappedKey;
	(void)ulWrappedKeyLen;
	(void)pTemplate;
	(void)ulAttributeCount;
	(void)phKey;
	return no_mechanism(hSession, pMechanism);
}

/* The SP has no random number service for the host, and the token claims no CKF_RNG. */
P11_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)pSeed;
	(void)ulSeedLen;
	if (rv == CKR_OK)
		rv = CKR_RANDOM_SEED_NOT_SUPPORTED;
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
    CK_ULONG ulRandomLen)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	(void)RandomData;
	(void)ulRandomLen;
	if (rv == CKR_OK)
		rv = CKR_RANDOM_NO_RNG;
	p11_session_put(s);
	return rv;
}

/* Legacy parallel-session functions (v2.40 §5.16). */
P11_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = CKR_FUNCTION_NOT_PARALLEL;
	p11_session_put(s);
	return rv;
}

P11_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(hSession, 0, &s);

	if (rv == CKR_OK)
		rv = CKR_FUNCTION_NOT_PARALLEL;
	p11_session_put(s);
	return rv;
}

static CK_FUNCTION_LIST function_list = {
	.version = { CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR },
	.C_Initialize = C_Initialize,
	.C_Finalize = C_Finalize,
	.C_GetInfo = C_GetInfo,
	.C_GetFunctionList = C_GetFunctionList,
	.C_GetSlotList = C_GetSlotList,
	.C_GetSlotInfo = C_GetSlotInfo,
	.C_GetTokenInfo = C_GetTokenInfo,
	.C_GetMechanismList = C_GetMechanismList,
	.C_GetMechanismInfo = C_GetMechanismInfo,
	.C_InitToken = C_InitToken,
	.C_InitPIN = C_InitPIN,
	.C_SetPIN = C_SetPIN,
	.C_OpenSession = C_OpenSession,
	.C_CloseSession = C_CloseSession,
	.C_CloseAllSessions = C_CloseAllSessions,
	.C_GetSessionInfo = C_GetSessionInfo,
	.C_GetOperationState = C_GetOperationState,
	.C_SetOperationState = C_SetOperationState,
	.C_Login = C_Login,
	.C_Logout = C_Logout,
	.C_CreateObject = C_CreateObject,
	.C_CopyObject = C_CopyObject,
	.C_DestroyObject = C_DestroyObject,
	.C_GetObjectSize = C_GetObjectSize,
	.C_GetAttributeValue = C_GetAttributeValue,
	.C_SetAttributeValue = C_SetAttributeValue,
	.C_FindObjectsInit = C_FindObjectsInit,
	.C_FindObjects = C_FindObjects,
	.C_FindObjectsFinal = C_FindObjectsFinal,
	.C_EncryptInit = C_EncryptInit,
	.C_Encrypt = C_Encrypt,
	.C_EncryptUpdate = C_EncryptUpdate,
	.C_EncryptFinal = C_EncryptFinal,
	.C_DecryptInit = C_DecryptInit,
	.C_Decrypt = C_Decrypt,
	.C_DecryptUpdate = C_DecryptUpdate,
	.C_DecryptFinal = C_DecryptFinal,
	.C_DigestInit = C_DigestInit,
	.C_Digest = C_Digest,
	.C_DigestUpdate = C_DigestUpdate,
	.C_DigestKey = C_DigestKey,
	.C_DigestFinal = C_DigestFinal,
	.C_SignInit = C_SignInit,
	.C_Sign = C_Sign,
	.C_SignUpdate = C_SignUpdate,
	.C_SignFinal = C_SignFinal,
	.C_SignRecoverInit = C_SignRecoverInit,
	.C_SignRecover = C_SignRecover,
	.C_VerifyInit = C_VerifyInit,
	.C_Verify = C_Verify,
	.C_VerifyUpdate = C_VerifyUpdate,
	.C_VerifyFinal = C_VerifyFinal,
	.C_VerifyRecoverInit = C_VerifyRecoverInit,
	.C_VerifyRecover = C_VerifyRecover,
	.C_DigestEncryptUpdate = C_DigestEncryptUpdate,
	.C_DecryptDigestUpdate = C_DecryptDigestUpdate,
	.C_SignEncryptUpdate = C_SignEncryptUpdate,
	.C_DecryptVerifyUpdate = C_DecryptVerifyUpdate,
	.C_GenerateKey = C_GenerateKey,
	.C_GenerateKeyPair = C_GenerateKeyPair,
	.C_WrapKey = C_WrapKey,
	.C_UnwrapKey = C_UnwrapKey,
	.C_DeriveKey = C_DeriveKey,
	.C_SeedRandom = C_SeedRandom,
	.C_GenerateRandom = C_GenerateRandom,
	.C_GetFunctionStatus = C_GetFunctionStatus,
	.C_CancelFunction = C_CancelFunction,
	.C_WaitForSlotEvent = C_WaitForSlotEvent,
};
