//! Fuel on the web: the module is re-encoded with a counter it decrements
//! itself, since the browser meters nothing.
//!
//! The counter is a mutable `i64` global the module imports as
//! [`FUEL_MODULE`]`::`[`FUEL_NAME`] (appended after its own global imports, so
//! its defined globals move up by one). At the entry of every function and the
//! head of every loop, the code subtracts the number of instructions of that
//! function or loop body (nested loops excluded) and traps with `unreachable`
//! when the counter falls below zero; the host tells that trap from the
//! guest's own by the counter's sign. A loop iteration or a call therefore
//! always costs at least one unit, so a guest that runs forever runs out.
//!
//! Units: one per instruction in the region, charged on entry whichever branch
//! then runs: an upper bound of what wasmi or wasmtime charge for the same
//! path (1 per operator), never less, and the instrumentation itself is free.

use std::convert::Infallible;

use plugin_system_core::{ExternType, ModuleInfo, Result, WasmError};
use wasm_encoder::{
    BlockType, EntityType, Function, GlobalType, ImportSection, Instruction, Module, SectionId,
    ValType,
    reencode::{Error, Reencode},
};
use wasmparser::{FunctionBody, Operator, Parser};

/// The import module of the fuel counter: the runtime's reserved prefix, which
/// no module may import from itself (`module_info::RESERVED_PREFIX`).
pub(crate) const FUEL_MODULE: &str = crate::module_info::RESERVED_PREFIX;
/// The import name of the fuel counter.
pub(crate) const FUEL_NAME: &str = "fuel";

/// `binary` (validated) with fuel metering (see the module docs).
///
/// # Errors
/// [`WasmError::InvalidModule`] when the re-encoder cannot read it back (only
/// for what wasmparser's validator accepts and the encoder does not).
pub(crate) fn instrument(binary: &[u8], info: &ModuleInfo) -> Result<Vec<u8>> {
    let imported_globals = info
        .imports
        .iter()
        .filter(|i| matches!(i.ty, ExternType::Global(_)))
        .count() as u32;
    let mut meter = Meter {
        fuel: imported_globals,
        imports_done: false,
    };
    let mut module = Module::new();
    meter
        .parse_core_module(&mut module, Parser::new(0), binary)
        .map_err(|error| WasmError::InvalidModule {
            message: format!("cannot meter the module for fuel: {error}"),
        })?;
    Ok(module.finish())
}

/// The re-encoder: where the counter is, and whether it has been imported.
struct Meter {
    /// The counter's global index (the first after the module's own imports).
    fuel: u32,
    imports_done: bool,
}

impl Meter {
    fn fuel_import(&mut self, imports: &mut ImportSection) {
        let ty = GlobalType {
            val_type: ValType::I64,
            mutable: true,
            shared: false,
        };
        imports.import(FUEL_MODULE, FUEL_NAME, EntityType::Global(ty));
        self.imports_done = true;
    }

    /// `fuel -= cost; if fuel < 0 { unreachable }`.
    fn charge(&self, function: &mut Function, cost: u64) {
        let cost = i64::try_from(cost).unwrap_or(i64::MAX);
        function
            .instruction(&Instruction::GlobalGet(self.fuel))
            .instruction(&Instruction::I64Const(cost))
            .instruction(&Instruction::I64Sub)
            .instruction(&Instruction::GlobalSet(self.fuel))
            .instruction(&Instruction::GlobalGet(self.fuel))
            .instruction(&Instruction::I64Const(0))
            .instruction(&Instruction::I64LtS)
            .instruction(&Instruction::If(BlockType::Empty))
            .instruction(&Instruction::Unreachable)
            .instruction(&Instruction::End);
    }
}

impl Reencode for Meter {
    type Error = Infallible;

    fn global_index(&mut self, global: u32) -> Result<u32, Error> {
        Ok(if global >= self.fuel {
            global + 1
        } else {
            global
        })
    }

    fn parse_import_section(
        &mut self,
        imports: &mut ImportSection,
        section: wasmparser::ImportSectionReader<'_>,
    ) -> Result<(), Error> {
        wasm_encoder::reencode::utils::parse_import_section(self, imports, section)?;
        self.fuel_import(imports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), Error> {
        // A module without imports gets a section for the counter where the
        // import section belongs: before the first section after it.
        if !self.imports_done && !matches!(before, Some(SectionId::Type | SectionId::Import)) {
            let mut imports = ImportSection::new();
            self.fuel_import(&mut imports);
            module.section(&imports);
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        body: FunctionBody<'_>,
    ) -> Result<(), Error> {
        let mut function = self.new_function_with_parsed_locals(&body)?;
        let mut reader = body.get_operators_reader()?;
        let mut operators = Vec::new();
        while !reader.eof() {
            operators.push(reader.read()?);
        }
        let costs = region_costs(&operators);
        self.charge(&mut function, costs[0]);
        let mut next_loop = 1;
        for operator in operators {
            let is_loop = matches!(operator, Operator::Loop { .. });
            function.instruction(&self.instruction(operator)?);
            if is_loop {
                self.charge(&mut function, costs[next_loop]);
                next_loop += 1;
            }
        }
        code.function(&function);
        Ok(())
    }
}

/// The cost of each region of a body: the function's own (index 0), then each
/// loop's in the order the loops start. An instruction counts for the
/// innermost loop around it, or the function.
fn region_costs(operators: &[Operator<'_>]) -> Vec<u64> {
    let mut costs = vec![0u64];
    // Per open block: the region it belongs to after it ends (loops only).
    let mut blocks: Vec<Option<usize>> = Vec::new();
    let mut region = 0;
    for operator in operators {
        costs[region] += 1;
        match operator {
            Operator::Loop { .. } => {
                blocks.push(Some(region));
                costs.push(0);
                region = costs.len() - 1;
            }
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => blocks.push(None),
            Operator::End => {
                if let Some(Some(outer)) = blocks.pop() {
                    region = outer;
                }
            }
            _ => {}
        }
    }
    costs
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// The region costs of the one function of `wat`.
    fn costs_of(wat: &str) -> Vec<u64> {
        let binary = wat::parse_str(wat).unwrap();
        for payload in Parser::new(0).parse_all(&binary) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let operators = body
                    .get_operators_reader()
                    .unwrap()
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                return region_costs(&operators);
            }
        }
        panic!("no function in the fixture")
    }

    #[wasm_bindgen_test]
    fn each_loop_is_a_region_of_its_own() {
        let costs = costs_of(
            "(module (func
                (block
                    nop
                    (loop
                        nop
                        (loop (br 0)))
                    nop)))",
        );
        // The function: block, nop, loop, nop, end(block), end(func).
        // The outer loop: nop, loop, end(outer loop).
        // The inner loop: br, end(inner loop).
        assert_eq!(costs, [6, 3, 2]);
    }

    #[wasm_bindgen_test]
    fn a_function_without_loops_is_one_region() {
        assert_eq!(
            costs_of("(module (func (drop (i32.add (i32.const 1) (i32.const 2)))))"),
            [5]
        );
    }

    #[wasm_bindgen_test]
    fn the_rewrite_keeps_the_module_valid_and_moves_defined_globals_up() {
        let binary = wat::parse_str(
            r#"(module
                (import "env" "g" (global i32))
                (global $own (mut i64) (i64.const 7))
                (func (export "f") (result i64) (global.get $own)))"#,
        )
        .unwrap();
        let info = crate::read_module_info(&binary).unwrap();
        let metered = instrument(&binary, &info).unwrap();
        wasmparser::Validator::new().validate_all(&metered).unwrap();
        // Read with wasmparser: the runtime's own reader refuses the reserved
        // import, as it must for any module a guest hands in.
        assert!(crate::read_module_info(&metered).is_err());
        let mut imports = Vec::new();
        for payload in Parser::new(0).parse_all(&metered) {
            if let wasmparser::Payload::ImportSection(reader) = payload.unwrap() {
                for import in reader.into_imports() {
                    let import = import.unwrap();
                    imports.push((import.module.to_owned(), import.name.to_owned()));
                }
            }
        }
        let fuel = imports
            .iter()
            .position(|(module, name)| module == FUEL_MODULE && name == FUEL_NAME);
        assert_eq!(fuel, Some(1), "after the module's own import");
    }
}
