import FHIRModels
import Foundation
import GatewayAuth
import GatewayConfig
import GatewayStore
import HTTPTypes
import Hummingbird

/// The innermost layer: hands an authenticated request to the controller of its interaction,
/// after the scope check for that access (each controller confines its scope further).
struct InteractionDispatcher: HTTPResponder {
    typealias Context = GatewayRequestContext
    let services: GatewayServices
    let exports: ExportWorker

    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await dispatch(request, context: context)
        } catch var error as FHIRError where error.status == 405 {
            let writable = Set(TenantConfiguration.writableResourceTypes).intersection(context.tenant?.configuration.resourceTypes ?? [])
            error.headers.append(("Allow", FHIRInteraction.allowedMethods(rest: context.route?.rest ?? [], writable: writable)))
            throw error
        }
    }

    private func dispatch(_ request: Request, context: Context) async throws -> Response {
        guard let tenant = context.tenant, let interaction = context.interaction, let scope = context.scope,
              let subjects = context.subjects, let contentType = context.contentType else {
            throw FHIRError.notFound("no FHIR endpoint at this path")
        }
        let parameters = context.parameters
        let auditor = WriteAuditor(tenantID: scope.tenantID, request: context.state.snapshot, scope: scope, address: context.address, baseURL: tenant.baseURL)
        if interaction == .bundle {
            let controller = BundleController(services: services, tenant: tenant, scope: scope, policy: ScopePolicy(scope: scope.scope), subjects: subjects,
                                              auditor: auditor)
            let (response, count) = try await controller.handle(request: request, contentType: contentType)
            context.state.update { $0.resultCount = count }
            return response
        }
        let exportController = ExportController(services: services, tenant: tenant, scope: scope, subjects: subjects, worker: exports)
        switch interaction {
        case .export(let level): return try await exportController.kickOff(level: level, request: request, query: parameters)
        case .exportStatus(let job): return try await exportController.status(job: job)
        case .exportCancel(let job): return try await exportController.cancel(job: job)
        case .exportFile(let job, let file): return try await exportController.download(job: job, file: file, head: request.method == .head)
        default: break
        }
        guard let type = interaction.resourceType else {
            throw FHIRError(status: 405, code: .notSupported, "this interaction is not supported")
        }
        let auditTrail = type == "AuditEvent" && [.search(type: type), .read(type: type, id: interaction.readID ?? "")].contains(interaction)
        guard auditTrail || (TenantConfiguration.supportedResourceTypes.contains(type) && tenant.configuration.resourceTypes.contains(type)) else {
            throw FHIRError.notFound("resource type '\(type)' is not served for this tenant")
        }
        let policy = ScopePolicy(scope: scope.scope)
        switch interaction {
        case .read(_, let id), .vread(_, let id, _):
            let scoped = try ScopeAuthorization.scope(scope, policy: policy, access: .read, type: type, baseURL: tenant.baseURL)
            var version: String? = nil
            if case .vread(_, _, let requested) = interaction { version = requested }
            return try await ReadController(services: services, tenant: tenant, scope: scoped, subjects: subjects)
                .read(type: type, id: id, version: version, request: request, contentType: contentType)
        case .search:
            let scoped = try ScopeAuthorization.scope(scope, policy: policy, access: .search, type: type, baseURL: tenant.baseURL)
            var searchParameters = parameters
            let posted = request.method == .post
            if posted {
                searchParameters += try await FormBody.parameters(request)
            }
            let controller = SearchController(services: services, tenant: tenant, scope: scoped, policy: policy, subjects: subjects)
            let (response, count) = try await controller.search(type: type, parameters: searchParameters,
                                                                strict: Self.prefersStrict(request), contentType: contentType, posted: posted)
            context.state.update { $0.resultCount = count }
            return response
        case .create, .update, .validate:
            guard TenantConfiguration.writableResourceTypes.contains(type) else {
                throw FHIRError(status: 405, code: .notSupported, "the '\(interaction.name)' interaction is not supported for \(type): HMS records are read-only")
            }
            // The write pipeline checks the grant itself, against the entry's own access.
            let controller = WriteController(services: services, tenant: tenant, scope: scope, subjects: subjects, auditor: auditor)
            switch interaction {
            case .update(_, let id): return try await controller.update(type: type, id: id, request: request, contentType: contentType)
            case .validate: return try await controller.validateOnly(type: type, request: request, contentType: contentType)
            default: return try await controller.create(type: type, request: request, contentType: contentType)
            }
        case .history(_, let id):
            let scoped = try ScopeAuthorization.scope(scope, policy: policy, access: .read, type: type, baseURL: tenant.baseURL)
            guard TenantConfiguration.writableResourceTypes.contains(type) else {
                throw FHIRError(status: 405, code: .notSupported, "history is not kept for HMS records; read the current version")
            }
            let (response, count) = try await WriteController(services: services, tenant: tenant, scope: scoped, subjects: subjects)
                .history(type: type, id: id, parameters: parameters, contentType: contentType)
            context.state.update { $0.resultCount = count }
            return response
        case .unsupported(_, let name):
            throw FHIRError(status: 405, code: .notSupported, "the '\(name)' interaction is not supported for \(type)")
        case .capabilities, .smartConfiguration, .bundle, .export, .exportStatus, .exportCancel, .exportFile:
            throw FHIRError.notFound("no FHIR endpoint at this path")
        }
    }

    static func prefersStrict(_ request: Request) -> Bool {
        PreferHeader(request.headers[values: .prefer]).isStrict
    }
}
