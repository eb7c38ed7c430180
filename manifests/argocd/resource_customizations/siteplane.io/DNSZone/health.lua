-- Argo CD health of a siteplane.io object (Site, DNSZone, DNSRecord, AccessGrant, DNSBackend).
-- The same verdict kstatus (Flux, cli-utils) reads from siteplane's status contract:
--   deleting                                        -> Progressing  (kstatus: Terminating)
--   status.observedGeneration != metadata.generation -> Progressing  (kstatus: InProgress)
--   Stalled=True (Ready=False, a person must act)   -> Degraded     (kstatus: Failed)
--   Reconciling=True (still working towards Ready)  -> Progressing  (kstatus: InProgress)
--   Ready=True                                      -> Healthy, or Suspended for a suspended Site
--                                                      (kstatus: Current)
-- The CRDs default status.observedGeneration to 0, so an object the operator has not written yet
-- is Progressing, never Healthy. Only the libraries Argo CD opens for argocd-cm scripts are used
-- (base and table: no string library).
-- Generated copies: manifests/argocd/resource_customizations/siteplane.io/<Kind>/health.lua.
local hs = {}
local metadata = obj.metadata or {}
if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end
local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the siteplane operator to observe this object"
  return hs
end
if metadata.generation ~= nil and status.observedGeneration ~= metadata.generation then
  hs.status = "Progressing"
  hs.message = "Generation " .. tostring(metadata.generation) .. " is not yet observed (observed: " ..
    tostring(status.observedGeneration) .. ")"
  return hs
end
local function describe(condition)
  if condition.message == nil or condition.message == "" then
    return condition.reason or ""
  end
  return (condition.reason or "") .. ": " .. condition.message
end
local ready = nil
for _, condition in ipairs(status.conditions or {}) do
  if condition.type == "Stalled" and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = describe(condition)
    return hs
  end
  if condition.type == "Reconciling" and condition.status == "True" then
    hs.status = "Progressing"
    hs.message = describe(condition)
    return hs
  end
  if condition.type == "Ready" then
    ready = condition
  end
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the siteplane operator to report Ready"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  if ready.reason == "Suspended" then
    hs.status = "Suspended"
  end
  hs.message = ready.message or ready.reason
  return hs
end
hs.status = "Progressing"
hs.message = describe(ready)
return hs
