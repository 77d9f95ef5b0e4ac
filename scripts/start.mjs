// `npm start`: the main job on the embedded PostgreSQL. Filled in by the migrate/plan work.
console.log('cutover: nothing to run yet');
