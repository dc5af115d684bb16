/// Placeholder until the structural validator lands.
enum FHIRValidationModule {}
