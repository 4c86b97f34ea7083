// SPDX-License-Identifier: Apache-2.0

/// The version of the plugin interface in this build of AdapterKit.
///
/// A plugin carries the version it was built against in its own binary; the loader
/// compares the two before running any plugin code (DESIGN §5.3). Kit is built without
/// library evolution, so a plugin compiles the layout of every type it is handed into
/// its own code: any change of a public type's stored properties or of a protocol's
/// requirements raises this number, and so does a change in how a plugin's code is called.
/// Version 2: ``StrategyOptions`` records which options were left to their defaults, which
/// changes ``AdapterConfiguration``'s layout. Version 3: the trainer attaches an adapter to
/// several replicas of the backbone and calls their hooks from several threads at once
/// (``ReplicableBackbone``), and ``TrainableParameters/chunkOffset`` is per thread.
public let adapterKitABIVersion: Int32 = 3
